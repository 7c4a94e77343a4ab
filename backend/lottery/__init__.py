"""Lotteries (抽選) for popular facility slots."""
