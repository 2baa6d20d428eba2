"""Django finds an app's models in ``<app>.models``: each domain keeps its own, imported here."""
from domain.datasets.models import *  # noqa: F401,F403
from domain.deploy.models import *  # noqa: F401,F403
from domain.market.models import *  # noqa: F401,F403
from domain.projects.models import *  # noqa: F401,F403
from domain.runs.models import *  # noqa: F401,F403
