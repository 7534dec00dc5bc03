"""Loyalty: a points ledger (积分) that never loses or double-counts a point, member levels
(会员等级) with benefits, clubs and events (客户俱乐部, 专属活动).
"""
