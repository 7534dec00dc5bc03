"""The account team's day: alerts routed to a person with an SLA, interactions, follow-ups.

* :mod:`.calendar` -- working days (weekends, public holidays and China's make-up working
  days 调休) for SLAs.
* :mod:`.routing` -- alerts from each imported analysis, routed to the owner (or the team
  lead), reopened when flagged again, escalated once when their SLA is breached.
* :mod:`.notify` -- in-app notifications and their e-mails.
* :mod:`.interactions` -- visits, calls and messages logged against a customer; a
  complaint or service request opens a follow-up for the owner.
"""
