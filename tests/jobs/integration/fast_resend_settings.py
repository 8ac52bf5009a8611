"""Settings for the workers of these tests: the project's, plus a short JOB_RESEND_AFTER_SECONDS
from the environment, so a lost message is sent again within seconds rather than a minute."""

import os

from twinadmin.settings import *  # noqa: F403

JOB_RESEND_AFTER_SECONDS = float(os.environ.get("JOB_RESEND_AFTER_SECONDS", "60"))
