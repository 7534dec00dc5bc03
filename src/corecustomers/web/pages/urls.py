"""Page URLs (namespace ``pages``).

A customer's profile lives at ``/customers/<key>/`` where ``key`` is the external id
(URL-encoded: ids may hold ``/``, spaces or CJK; ``reverse`` encodes them) or, for analysts,
the pseudonym. Its forms post back to the same address. Administration is for
administrators only; other roles get 403 there (the pages exist for everyone to know of,
unlike a customer, whose existence must not leak).
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from corecustomers.web.pages import admin_views, assignment_views, customer_views, views, work_views
from corecustomers.web.pages import imports as import_views
from corecustomers.web.pages import sources as source_views

app_name = "pages"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", views.set_language, name="language"),
    path("", views.dashboard, name="dashboard"),
    path("customers/", customer_views.customer_list, name="customers"),
    path("customers.csv", customer_views.export, name="export"),
    path("customers/<path:key>/", customer_views.profile, name="customer"),
    path("work/", work_views.work_page, name="work"),
    path("work/snooze/", work_views.snooze_item, name="work-snooze"),
    path("work/hand-over/", work_views.hand_over_item, name="work-hand-over"),
    path("work/team/", work_views.team_page, name="team"),
    path("work/assign/", assignment_views.assign_page, name="work-assign"),
    path("log/<path:key>/", work_views.log_page, name="log-interaction"),
    path("alerts/", work_views.alerts_page, name="alerts"),
    path("alerts/<int:pk>/", work_views.alert_change, name="alert-change"),
    path("notifications/", work_views.notifications_page, name="notifications"),
    path("administration/", admin_views.home, name="admin"),
    path("administration/users/", admin_views.users, name="admin-users"),
    path("administration/teams/", admin_views.teams, name="admin-teams"),
    path("administration/tokens/", admin_views.tokens, name="admin-tokens"),
    path("administration/audit/", admin_views.audit, name="admin-audit"),
    path("administration/settings/", admin_views.service_settings, name="admin-settings"),
    path("imports/", import_views.import_form, name="imports"),
    path("imports/<uuid:job_id>/", import_views.import_job, name="import-job"),
    path("imports/<uuid:job_id>/apply/", import_views.import_apply, name="import-apply"),
    path(
        "imports/<uuid:job_id>/bad-rows.csv", import_views.import_bad_rows, name="import-bad-rows"
    ),
    path("sources/", source_views.source_list, name="sources"),
    path("sources/<str:name>/run/", source_views.source_run, name="source-run"),
    path("sources/runs/<uuid:job_id>/", source_views.run_page, name="source-run-page"),
    path("sources/runs/<uuid:job_id>/report/", source_views.run_report, name="source-report"),
]
