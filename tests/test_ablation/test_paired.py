"""Paired differences between rows over shared cells (wsal.experiments.paired)."""
import pytest

from wsal.experiments.paired import cell_values, paired_differences, paired_table
from wsal.experiments.sweep import format_sweep_markdown, sweep_cell_values


def _summary(per_row):
    """A summary with mAP@0.5 per seed: {row: {seed: value}} (other tIoUs 0)."""
    rows = {}
    for key, by_seed in per_row.items():
        seeds = sorted(by_seed)
        rows[key] = {'name': f'name-{key}', 'seeds': seeds,
                     'mAP': {'values': [[0.0, by_seed[s], 0.0] for s in seeds]}}
    return {'tiou': [0.3, 0.5, 0.7], 'rows': rows}


def test_differences_use_only_shared_cells():
    values = cell_values(_summary({'a': {0: 0.30, 1: 0.20, 2: 0.50}, 'b': {0: 0.25, 1: 0.30}}))
    assert values == {'a': {0: 0.30, 1: 0.20, 2: 0.50}, 'b': {0: 0.25, 1: 0.30}}
    d = paired_differences(values)
    ab = d['a']['b']
    assert ab['cells'] == 2  # seed 2 has no partner
    assert ab['mean'] == pytest.approx((0.05 - 0.10) / 2)
    assert ab['min'] == pytest.approx(-0.10) and ab['max'] == pytest.approx(0.05)
    assert ab['at_least'] == 1
    assert d['b']['a']['mean'] == pytest.approx(-ab['mean'])
    assert d['b']['a']['at_least'] == 1
    # a tie counts for both rows
    tie = paired_differences({'a': {0: 0.4}, 'b': {0: 0.4}})
    assert tie['a']['b']['at_least'] == 1 and tie['b']['a']['at_least'] == 1
    # no shared cell: no entry
    assert paired_differences({'a': {0: 0.1}, 'b': {1: 0.2}}) == {}
    # a tIoU the summary lacks gives nothing
    assert cell_values(_summary({'a': {0: 0.1}}), tiou=0.9) == {}


def test_table_entries_and_when_it_is_left_out():
    values = {'r2': {0: 0.10, 1: 0.20, 2: 0.15}, 'r8': {0: 0.25, 1: 0.22, 2: 0.30}}
    lines = paired_table(values, labels={'r8': 'r8 full'})
    text = '\n'.join(lines)
    # r8 - r2: +15, +2, +15 -> mean +10.7, smallest +2.0, 3 of 3
    assert '| r8 full | +10.7 [+2.0] 3/3 | – |' in text
    assert '| r2 | – | -10.7 [-15.0] 0/3 |' in text
    # a mean that rounds to zero from below prints without a sign flip
    near = paired_table({'a': {0: 0.1000, 1: 0.2000}, 'b': {0: 0.1002, 1: 0.2002}})
    assert '| a | – | +0.0 [+0.0] 0/2 |' in '\n'.join(near)
    # one row, or a single shared cell, makes no table
    assert paired_table({'r2': values['r2']}) == []
    assert paired_table({'a': {0: 0.1}, 'b': {0: 0.2}}) == []


def test_sweep_pairs_cells_by_setting_and_seed():
    s1 = _summary({'r2': {0: 0.10, 1: 0.20}, 'r8': {0: 0.30, 1: 0.10}})
    s2 = _summary({'r2': {0: 0.40, 1: 0.20}, 'r8': {0: 0.45, 1: 0.35}})
    sweep = {'settings': {'base': {'options': {}, 'summary': dict(s1, markdown='### base\n')},
                          'noisy': {'options': {'x': 1}, 'summary': dict(s2, markdown='### noisy\n')}},
             'overview': {k: {'name': f'name-{k}', 'base': {'mAP@0.5': 0.1, 'mAP@0.5_std': 0.0,
                                                              'flagged_cells': 0, 'cells': 2}}
                          for k in ('r2', 'r8')}}
    values = sweep_cell_values(sweep)
    assert values['r8'] == {('base', 0): 0.30, ('base', 1): 0.10,
                            ('noisy', 0): 0.45, ('noisy', 1): 0.35}
    d = paired_differences(values)['r8']['r2']
    # +20, -10, +5, +15 over the four (setting, seed) cells
    assert d['cells'] == 4 and d['at_least'] == 3
    assert d['mean'] == pytest.approx(0.075) and d['min'] == pytest.approx(-0.10)
    md = format_sweep_markdown(sweep)
    assert '| r8 name-r8 | +7.5 [-10.0] 3/4 | – |' in md
    # the mean over all cells: r8 (0.30 + 0.10 + 0.45 + 0.35) / 4
    assert '| 30.0 (4) |' in md


def test_learning_curves_over_seeds_and_over_a_sweep():
    from wsal.experiments.report import curve_table, val_curve
    from wsal.experiments.sweep import sweep_curves

    def cell(points):
        return {'curves': {'val': [{'iter': i, 'detection/mAP@0.5': v} for i, v in points]}}

    # iteration 3000 is validated in one cell only: left out
    c = val_curve([cell([(1000, 0.1), (2000, 0.3), (3000, 0.9)]),
                   cell([(1000, 0.2), (2000, 0.5)])])
    assert c['iters'] == [1000, 2000]
    assert c['mean'] == pytest.approx([0.15, 0.4])
    assert c['values'] == [[0.1, 0.2], [0.3, 0.5]]
    assert val_curve([cell([]), cell([(1000, 0.2)])]) is None
    assert val_curve([{'curves': {'train': []}}]) is None
    lines = curve_table({'r8': c, 'r2': None}, labels={'r8': 'r8 full'}, caption='Curves:')
    assert '| row | 1000 | 2000 |' in lines and '| r8 full | 15.0 | 40.0 |' in lines
    assert not any(line.startswith('| r2') for line in lines)
    assert curve_table({'r2': None}, labels={}, caption='x') == []
    # over a sweep: every (setting, seed) cell at the iterations all settings validated
    c2 = val_curve([cell([(1000, 0.5), (2000, 0.7)])])
    sweep = {'settings': {'a': {'summary': {'rows': {'r8': {'val_curve': c}}}},
                          'b': {'summary': {'rows': {'r8': {'val_curve': c2}}}}}}
    over = sweep_curves(sweep)['r8']
    assert over['iters'] == [1000, 2000] and over['cells'] == [3, 3]
    assert over['mean'] == pytest.approx([(0.1 + 0.2 + 0.5) / 3, (0.3 + 0.5 + 0.7) / 3])
    sweep['settings']['b']['summary']['rows']['r8']['val_curve'] = None
    assert sweep_curves(sweep)['r8'] is None
