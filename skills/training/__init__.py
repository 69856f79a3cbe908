"""Fine-tuning: plan and confirm a run, launch it, watch the job, announce its end."""
