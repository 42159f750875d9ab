"""wsal.postprocess"""
