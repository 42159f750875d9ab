# Table 1, row 1: L_fg only. Rows 1-2 are STPN's own results, so this row keeps
# STPN's model and proposal scheme and only switches the sparsity term off.
_base_ = ['../stpn/stpn_i3d_thumos14.py']

model = dict(losses=dict(sparsity=None))
