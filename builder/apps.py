from django.apps import AppConfig


class BuilderConfig(AppConfig):
    name = "builder"
    verbose_name = "Model builder"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from builder.graph import load_plugins

        load_plugins()
