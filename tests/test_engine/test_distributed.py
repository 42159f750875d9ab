"""Two-process CPU training through torchrun (gloo), like a user would run it."""
import json
import os
import subprocess
import sys

from wsal.apis.runner import prepare_config, run_train
from wsal_e2e_support import write_config


def _val_records(work_dir):
    """The validation lines of the Runner's scalars.json logs."""
    recs = []
    for root, _, files in os.walk(work_dir):
        if 'scalars.json' in files:
            with open(os.path.join(root, 'scalars.json')) as fh:
                recs += [json.loads(line) for line in fh if line.strip()]
    return [r for r in recs if not any(k.startswith('loss') or k == 'lr' for k in r)]


def test_torchrun_two_cpu_processes_match_single_process_format(tmp_path, tiny_root, monkeypatch):
    cfg_file = write_config(tmp_path / 'cfg', tiny_root, max_iters=4, val_interval=2)
    monkeypatch.syspath_prepend(str(cfg_file.parent))
    single = tmp_path / 'single'
    run_train(prepare_config(str(cfg_file), work_dir=single, launcher='none'))

    dist_dir = tmp_path / 'dist'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(cfg_file.parent)] + sys.path),
               OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
         # --standalone: the rendezvous binds a free port itself, so two test
         # runs at once cannot collide (a port probed and released could be taken)
         '--standalone', '-m', 'wsal', 'train', str(cfg_file),
         '--work-dir', str(dist_dir)],
        env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (dist_dir / 'iter_4.pth').is_file()
    assert (dist_dir / '.wsal.lock').read_text() == ''  # rank 0 held the work dir, then let go
    log = next(dist_dir.rglob('*.log')).read_text()
    assert 'Distributed launcher: pytorch' in log and 'Distributed training: True' in log
    assert "'backend': 'gloo'" in log or "backend='gloo'" in log

    s_recs, d_recs = _val_records(single), _val_records(dist_dir)
    assert len(s_recs) == len(d_recs) == 2  # validations at iterations 2 and 4
    for s, d in zip(s_recs, d_recs):
        assert set(s) == set(d)
        assert any(k.startswith(('detection/', 'standin/')) for k in s)
        for k in s:
            assert isinstance(d[k], type(s[k])), k
