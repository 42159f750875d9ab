"""``wsal demo``: the main job, end to end on the tiny preset."""
import json

from wsal.cli.main import main


def test_demo_trains_both_models_and_reports_their_own_numbers(tmp_path, capsys):
    work = tmp_path / 'demo'
    assert main(['demo', '--work-dir', str(work), '--preset', 'tiny', '--iters', '30']) == 0
    out = capsys.readouterr().out

    results = json.loads((work / 'results.json').read_text())
    assert results['preset'] == 'tiny' and set(results['models']) == {'STPN', 'Ours (BM)'}
    assert results['models']['STPN']['config'] == 'stpn/stpn_i3d_thumos14.py'
    assert results['models']['Ours (BM)']['config'] == 'bm/bm_i3d_thumos14.py'

    table = (work / 'table.txt').read_text()
    assert table.strip() in out  # what was printed is what was saved
    rows = {ln.split('  ')[0].strip(): ln for ln in table.splitlines()
            if ln.startswith(('STPN', 'Ours (BM)'))}
    assert set(rows) == {'STPN', 'Ours (BM)'}
    for name, line in rows.items():
        printed = [float(x) for x in line[len(name):].split()]
        metrics = results['models'][name]['metrics']
        expected = [100 * v for v in metrics['mAP']] + [
            100 * metrics['averages']['0.1-0.7'], 100 * metrics['averages']['0.1-0.9']]
        assert len(printed) == 11
        assert all(abs(p - e) <= 0.05 + 1e-9 for p, e in zip(printed, expected)), (name, printed)
        assert metrics['protocol']['num_videos'] == 4  # the tiny preset's test split

    png = (work / 'figure4.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000
    for model_dir in ('stpn_i3d_thumos14', 'bm_i3d_thumos14'):
        assert (work / model_dir / 'iter_30.pth').is_file()
