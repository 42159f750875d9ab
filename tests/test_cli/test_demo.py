"""``wsal demo``: the main job, end to end on the tiny preset."""
import json

from wsal.cli.main import main


def test_demo_trains_both_models_and_reports_their_own_numbers(tmp_path, capsys):
    work = tmp_path / 'demo'
    assert main(['demo', '--work-dir', str(work), '--preset', 'tiny', '--iters', '30']) == 0
    out, err = capsys.readouterr()

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
        flags = results['models'][name]['flags']
        if flags:  # a model with failed attention carries its flags after its row
            assert line.endswith('  [' + '; '.join(flags) + ']')
            line = line[:line.rindex('  [')]
        printed = [float(x) for x in line[len(name):].split()]
        metrics = results['models'][name]['metrics']
        expected = [100 * v for v in metrics['mAP']] + [
            100 * metrics['averages']['0.1-0.7'], 100 * metrics['averages']['0.1-0.9']]
        assert len(printed) == 11
        assert all(abs(p - e) <= 0.05 + 1e-9 for p, e in zip(printed, expected)), (name, printed)
        assert metrics['protocol']['num_videos'] == 4  # the tiny preset's test split
        # each model's own prediction count, not the first model's for both
        assert (f"  [{name}] predictions: {metrics['protocol']['num_predictions']} read"
                in table)
    # the protocol of the runs: data, iterations, seed, which checkpoint; no placeholder
    assert "training: synthetic preset 'tiny' (data seed 0" in table
    assert 'features rgb=32, flow=32' in table
    assert ('each model: 30 iterations (one video each), Adam lr 0.0001 (cosine to 0 over the run), '
            'weight decay 0.0005, '
            'training seed 0; '
            'evaluated: the checkpoint of iteration 30 (final, not selected on the test split)'
            in table)
    assert '<list of' not in table and 'all videos of the subset' in table
    # progress per model and for the whole demo went to the console as plain lines
    assert '[STPN] train 30/30  loss ' in err and '| demo 30/60 ETA ' in err
    assert '[Ours (BM)] train 30/30  loss ' in err and '| demo 60/60 ETA 0:00' in err
    assert '[Ours (BM)] test 4/4 ' in err and len(err.splitlines()) <= 10, err

    png = (work / 'figure4.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000
    for model_dir in ('stpn_i3d_thumos14', 'bm_i3d_thumos14'):
        assert (work / model_dir / 'iter_30.pth').is_file()


def test_cli_defaults_match_the_experiment_defaults():
    from wsal.cli import demo as cli_demo
    from wsal.experiments import demo as exp_demo
    assert (cli_demo.DEFAULT_ITERS, cli_demo.DEFAULT_LR) == (exp_demo.DEFAULT_ITERS,
                                                             exp_demo.DEFAULT_LR)
