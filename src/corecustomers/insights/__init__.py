"""What to do about the customers: behaviour, early warnings, potential, influence,
earliest adopters, recommendations and the combined core ranking.

Behaviour, referrals and adopters are lazy Ibis expressions over the canonical
transactions; the rest works on the scored customers as Arrow/NumPy. (The functions
``influence`` and ``recommend`` stay in the modules whose names they share.)
"""

from __future__ import annotations

from corecustomers.insights.adopters import early_adopters, product_launches
from corecustomers.insights.alerts import (
    AlertThresholds,
    core_customers,
    early_warnings,
    evaluate_alerts,
)
from corecustomers.insights.behaviour import customer_behaviour
from corecustomers.insights.influence import referrals
from corecustomers.insights.potential import potential_value, prediction_basis
from corecustomers.insights.ranking import CoreScores, capture_comparison, core_scores
from corecustomers.insights.recommend import evaluate_recommendations

__all__ = [
    "AlertThresholds",
    "CoreScores",
    "capture_comparison",
    "core_customers",
    "core_scores",
    "customer_behaviour",
    "early_adopters",
    "early_warnings",
    "evaluate_alerts",
    "evaluate_recommendations",
    "potential_value",
    "prediction_basis",
    "product_launches",
    "referrals",
]
