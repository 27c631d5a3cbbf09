//! The one-step generator mode of a comparison: a small MLP `f_θ: z → x` trained with the
//! drifting loss `‖f_θ(z) − stopgrad(f_θ(z) + V)‖²`, where `V` is a drift operator's field of the
//! generated batch toward the data.
//!
//! The network, its gradients and the optimiser are candle's (`candle-core`, `candle-nn`: CPU,
//! f32, Adam); the drift is this project's, computed on the CPU backend. The pieces:
//! [`GeneratorConfig`] (network and training settings), [`TrainingData`] (points and optional
//! labels: labelled data make the generator class-conditional), [`Mlp`] (the seeded network),
//! [`drifting_loss`] (the loss as a candle graph), [`generator_input`] (latents and one-hot
//! classes), [`train_generator`] (the training loop) and [`GeneratorOutcome`] (samples and
//! diagnostics).

mod config;
mod features;
mod latent;
mod loss;
mod mlp;
mod outcome;
mod train;
mod training_data;

pub use config::GeneratorConfig;
pub use features::{FeatureMaps, Features, ENCODER_CHANNELS};
pub use latent::{balanced_classes, generator_input};
pub use loss::drifting_loss;
pub use mlp::Mlp;
pub use outcome::GeneratorOutcome;
pub use train::train_generator;
pub use training_data::TrainingData;
