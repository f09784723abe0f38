// stabilityai/stable-diffusion-2-base's scheduler/scheduler_config.json, as published (a
// PNDMScheduler config, which the schedulers here read as Euler, DDIM, … with warnings).
export const SD2_BASE_SCHEDULER_CONFIG = `{
  "_class_name": "PNDMScheduler",
  "_diffusers_version": "0.10.0.dev0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "clip_sample": false,
  "num_train_timesteps": 1000,
  "prediction_type": "epsilon",
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null
}`;
