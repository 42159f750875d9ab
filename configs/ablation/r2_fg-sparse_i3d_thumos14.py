# Table 1, row 2: L_fg + L_sparse, i.e. STPN itself (configs/stpn/stpn_i3d_thumos14.py).
_base_ = ['../stpn/stpn_i3d_thumos14.py']

