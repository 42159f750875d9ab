"""wsal.evaluation"""
