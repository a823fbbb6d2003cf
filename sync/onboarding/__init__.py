"""Client onboarding: lead → portal → order → payroll audit."""
