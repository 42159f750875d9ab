"""Atomic output: ordinary permissions, no temporary left behind, folder fsync'ed."""
import os
import stat

import numpy as np
import pytest

from wsal.utils import io as wio
from wsal.utils import atomic_directory, atomic_write, atomic_write_json, atomic_write_text


@pytest.fixture
def umask():
    """Run the test under a chosen umask and restore the previous one after."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_(value):
        os.umask(value)

    yield set_
    os.umask(saved)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.skipif(os.name != 'posix', reason='POSIX permission bits')
@pytest.mark.parametrize('mask,file_mode,dir_mode', [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750),
                                                     (0o077, 0o600, 0o700)])
def test_files_and_folders_get_ordinary_permissions(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    assert _mode(atomic_write_text(tmp_path / 'a.txt', 'x')) == file_mode
    assert _mode(atomic_write_json(tmp_path / 'pred.json', {'results': {}})) == file_mode
    with atomic_write(tmp_path / 'b.bin', 'wb') as fh:
        fh.write(b'\0')
    assert _mode(tmp_path / 'b.bin') == file_mode
    with atomic_directory(tmp_path / 'out') as tmp:
        np.save(tmp / 'x.npy', np.zeros(3))
        (tmp / 'sub').mkdir()
    assert _mode(tmp_path / 'out') == dir_mode
    assert _mode(tmp_path / 'out' / 'x.npy') == file_mode
    assert _mode(tmp_path / 'out' / 'sub') == dir_mode
    # overwriting keeps the rule (a replaced file does not inherit the temp file's mode)
    assert _mode(atomic_write_text(tmp_path / 'a.txt', 'y')) == file_mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.txt', 'b.bin', 'out', 'pred.json']


def test_failed_write_keeps_previous_content_and_leaves_no_temporary(tmp_path):
    target = atomic_write_text(tmp_path / 'metrics.json', 'old\n')
    with pytest.raises(RuntimeError, match='boom'):
        with atomic_write(target) as fh:
            fh.write('half')
            raise RuntimeError('boom')
    assert target.read_text() == 'old\n'
    with pytest.raises(ValueError):  # NaN is refused before anything touches the disk
        atomic_write_json(target, {'mAP': float('nan')})
    with pytest.raises(LookupError):  # a bad open() argument: the descriptor is closed, temp removed
        with atomic_write(target, encoding='no-such-codec'):
            pass
    with pytest.raises(RuntimeError):
        with atomic_directory(tmp_path / 'dir') as tmp:
            (tmp / 'half.npy').write_bytes(b'1')
            raise RuntimeError('boom')
    assert target.read_text() == 'old\n'
    assert [p.name for p in tmp_path.iterdir()] == ['metrics.json']


def test_data_fsynced_before_rename_and_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

    def fsync(fd):
        events.append('fsync dir' if stat.S_ISDIR(os.fstat(fd).st_mode) else 'fsync file')
        real_fsync(fd)

    def moved(real, name):
        return lambda a, b: (events.append(name), real(a, b))[1]

    monkeypatch.setattr(os, 'fsync', fsync)
    monkeypatch.setattr(os, 'replace', moved(real_replace, 'replace'))
    monkeypatch.setattr(os, 'rename', moved(real_rename, 'rename'))
    atomic_write_text(tmp_path / 'a.txt', 'x')
    assert events == ['fsync file', 'replace', 'fsync dir']
    events.clear()
    with atomic_directory(tmp_path / 'out') as tmp:
        (tmp / 'f').write_text('1')
    assert events == ['fsync file', 'fsync dir', 'rename', 'fsync dir']
    events.clear()
    with atomic_directory(tmp_path / 'out') as tmp:  # replacing an existing folder
        (tmp / 'g').write_text('2')
    assert events == ['fsync file', 'fsync dir', 'rename', 'rename', 'fsync dir']
    assert [p.name for p in (tmp_path / 'out').iterdir()] == ['g']


def test_fsync_dir_tolerates_platforms_without_it(tmp_path, monkeypatch):
    def refuse(*a, **kw):
        raise OSError('not supported')

    monkeypatch.setattr(os, 'fsync', refuse)
    wio.fsync_dir(tmp_path)  # no error
    wio.fsync_dir(tmp_path / 'missing')


def test_nonfinite_to_none_makes_reports_writable(tmp_path):
    from wsal.utils import nonfinite_to_none
    report = {'auc': float('nan'), 'rows': [1.0, float('inf'), (float('-inf'), 2)],
              'nested': {'ok': 0.5, 'n': 3, 'name': 'x', 'none': None}}
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / 'r.json', report)
    assert not (tmp_path / 'r.json').exists()
    clean = nonfinite_to_none(report)
    assert clean == {'auc': None, 'rows': [1.0, None, [None, 2]],
                     'nested': {'ok': 0.5, 'n': 3, 'name': 'x', 'none': None}}
    atomic_write_json(tmp_path / 'r.json', clean)
    assert report['auc'] != report['auc']   # the input is left as it was
