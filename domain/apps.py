from django.apps import AppConfig


class DomainConfig(AppConfig):
    """The Django domain: one package per domain (projects, datasets, runs, deploy, market).

    The label stays ``builder``, the app's name before the domains had folders of their own, so
    existing databases keep their tables and migration history."""

    name = "domain"
    label = "builder"
    verbose_name = "Model builder"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from builder.graph import load_plugins
        from domain.deploy.services import on_run_succeeded
        from domain.deploy.weights import register_weight_sources as deploy_sources
        from domain.market.weights import register_weight_sources as market_sources
        from domain.runs.signals import run_succeeded

        load_plugins()
        run_succeeded.connect(on_run_succeeded, dispatch_uid="deploy.trained_model")
        deploy_sources()
        market_sources()
