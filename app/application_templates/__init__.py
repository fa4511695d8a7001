"""申請テンプレート: application templates (SPEC §2.8)."""

from app.application_templates import messages  # noqa: F401  (registers its codes)
