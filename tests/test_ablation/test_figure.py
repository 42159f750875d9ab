"""save_cells_figure: cells without a checkpoint are left out, errors become one warning."""
from wsal.experiments.figure import save_cells_figure


def test_cells_without_checkpoint_are_skipped(tmp_path):
    def never(work_dir):
        raise AssertionError('no config is built for a cell without a checkpoint')

    logged = []
    entries = [('not run', None, never),
               ('gone', {'checkpoint': str(tmp_path / 'missing.pth')}, never)]
    assert save_cells_figure(str(tmp_path / 'f.png'), entries, log=logged.append) is False
    assert logged == [] and not (tmp_path / 'f.png').exists()


def test_an_error_is_one_warning(tmp_path):
    ckpt = tmp_path / 'cell' / 'iter_2.pth'
    ckpt.parent.mkdir()
    ckpt.write_bytes(b'')
    seen = []

    def config_for(work_dir):
        seen.append(work_dir)
        raise KeyError('test_dataloader')

    logged = []
    assert save_cells_figure(str(tmp_path / 'f.png'), iter([('m', {'checkpoint': str(ckpt)},
                                                             config_for)]),
                             log=logged.append) is False
    assert seen == [str(ckpt.parent)]
    assert logged == ["warning: figure not written: KeyError: 'test_dataloader'"]
    assert not (tmp_path / 'f.png').exists()
