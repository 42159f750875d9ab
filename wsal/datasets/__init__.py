"""wsal.datasets"""
