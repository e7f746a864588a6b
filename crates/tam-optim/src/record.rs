//! Saving and loading a torque optimizer's state in Burn's burnpack format, keyed by parameter id
//! like Burn's own optimizer records: a resumed run continues exactly where it stopped.

use std::path::Path;

use burn::module::ParamId;
use burn::prelude::*;
use burn::tensor::Bytes;
use burn_pack::{Reader, Scalar, Writer};

use crate::optimizer::{Slot, TorqueOptimizer, TorqueRule};
use crate::{RecordState, StateSink, StateSource};

const OPTIMIZER_KEY: &str = "optimizer";
const STEPS_KEY: &str = "steps";
const S_HAT_KEY: &str = "s_hat";

/// Why optimizer state could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The bytes or file are not a readable burnpack record.
    #[error("optimizer state {origin}: {message}")]
    Format {
        /// The file, or "in memory".
        origin: String,
        /// What went wrong.
        message: String,
    },
    /// The record was written by another optimizer.
    #[error(
        "optimizer state {origin} was saved by `{found}`, not `{expected}`: load it into the optimizer that saved it"
    )]
    WrongOptimizer {
        /// The file, or "in memory".
        origin: String,
        /// The optimizer named in the record.
        found: String,
        /// The optimizer it was loaded into.
        expected: &'static str,
    },
}

impl<R: TorqueRule> TorqueOptimizer<R> {
    /// The state as burnpack bytes.
    pub fn to_bytes(&self) -> Result<Bytes, StateError> {
        self.writer().into_bytes().map_err(|e| StateError::Format {
            origin: "in memory".into(),
            message: e.to_string(),
        })
    }

    /// This optimizer with the state in `bytes` (from [`to_bytes`](Self::to_bytes)).
    pub fn from_bytes(self, bytes: Bytes) -> Result<Self, StateError> {
        let origin = "in memory".to_string();
        let reader = Reader::from_bytes(bytes).map_err(|e| StateError::Format {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
        self.read(reader, origin)
    }

    /// Writes the state to a burnpack file (`.bpk`).
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        self.writer()
            .overwrite(true)
            .write_to_file(path)
            .map_err(|e| StateError::Format {
                origin: path.display().to_string(),
                message: e.to_string(),
            })
    }

    /// This optimizer with the state saved at `path`.
    pub fn load(self, path: &Path) -> Result<Self, StateError> {
        let origin = path.display().to_string();
        let reader = Reader::from_file(path).map_err(|e| StateError::Format {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
        self.read(reader, origin)
    }

    fn writer(&self) -> Writer {
        let mut tensors = Vec::new();
        let mut scalars = vec![(STEPS_KEY.to_string(), Scalar::from(self.steps))];
        let mut push = |name: String, data: TensorData, param_id: Option<u64>| {
            let (bytes, shape, dtype) = data.into_parts();
            tensors.push(burn_pack::Tensor::new(name, dtype, shape, param_id, bytes));
        };
        // Sorted by id, so the same state always gives the same bytes.
        let mut ids: Vec<&ParamId> = self.slots.keys().collect();
        ids.sort_by_key(|id| id.val());
        for id in ids {
            let mut sink = StateSink::default();
            self.slots[id].state_flatten(&id.val().to_string(), &mut sink);
            for (name, data) in sink.tensors {
                push(name, data, Some(id.val()));
            }
            scalars.extend(sink.scalars);
        }
        if let Some(s_hat) = &self.s_hat {
            push(S_HAT_KEY.to_string(), s_hat.to_data(), None);
        }
        let mut writer = Writer::new(tensors).with_metadata(OPTIMIZER_KEY, R::NAME);
        for (key, value) in scalars {
            writer = writer.with_scalar(&key, value);
        }
        writer
    }

    fn read(mut self, reader: Reader, origin: String) -> Result<Self, StateError> {
        let found = reader.metadata().get(OPTIMIZER_KEY).cloned();
        if found.as_deref() != Some(R::NAME) {
            return Err(StateError::WrongOptimizer {
                origin,
                found: found.unwrap_or_else(|| "another program".into()),
                expected: R::NAME,
            });
        }
        let scalars = reader.scalars().clone();
        let steps = scalars
            .get(STEPS_KEY)
            .and_then(|s| usize::try_from(*s).ok());
        let mut source = StateSource::new(scalars);
        let tensors = reader.into_tensors().map_err(|e| StateError::Format {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
        // State goes to the default device; each step moves it next to its gradient.
        let device = Device::default();
        let mut ids = Vec::new();
        let mut s_hat = None;
        for tensor in tensors {
            let (name, dtype, shape, param_id, bytes) =
                tensor.into_parts().map_err(|e| StateError::Format {
                    origin: origin.clone(),
                    message: e.to_string(),
                })?;
            let data = TensorData::from_bytes(bytes, shape, dtype);
            match param_id {
                Some(id) => {
                    ids.push(id);
                    source.insert_tensor(name, data);
                }
                None if name == S_HAT_KEY => s_hat = Some(Tensor::<1>::from_data(data, &device)),
                None => {}
            }
        }
        ids.sort_unstable();
        ids.dedup();
        self.slots.clear();
        for id in ids {
            let slot =
                Slot::state_unflatten(&id.to_string(), &mut source, &device).ok_or_else(|| {
                    StateError::Format {
                        origin: origin.clone(),
                        message: format!("the state of parameter {id} is incomplete"),
                    }
                })?;
            self.slots.insert(ParamId::from(id), slot);
        }
        self.s_hat = s_hat;
        self.steps = steps.ok_or_else(|| StateError::Format {
            origin,
            message: "the step count is missing".into(),
        })?;
        Ok(self)
    }
}
