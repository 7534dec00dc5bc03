"""Surveys and follow-up (满意度调查, 回访): NPS and satisfaction, by link or by call, and the
alerts a detractor among core customers raises.
"""
