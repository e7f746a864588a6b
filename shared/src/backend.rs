//! Choosing the compute backend at run time.
//!
//! Burn 0.22 tensors carry no backend type: the [`Device`] decides. Kiln compiles backends in by
//! Cargo feature (`flex`, the default CPU backend; `wgpu`; `cuda`) and picks one by name from
//! `--backend` or `$KILN_BACKEND`. Library code never picks a device itself; binaries call
//! [`select_device`] once and pass the device down.

use std::fmt;
use std::str::FromStr;

use burn::prelude::Device;

/// Environment variable read when no `--backend` is given.
pub const BACKEND_ENV: &str = "KILN_BACKEND";

/// A compute backend Kiln knows about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Pure-Rust CPU backend (SIMD + rayon); the default.
    Flex,
    /// GPU through wgpu (Vulkan, Metal, DX12, or OpenGL ES).
    Wgpu,
    /// NVIDIA GPU through CUDA.
    Cuda,
}

impl Backend {
    /// Every backend, compiled in or not.
    pub const ALL: [Backend; 3] = [Backend::Flex, Backend::Wgpu, Backend::Cuda];

    /// The name used on the command line and in `$KILN_BACKEND`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether this build contains the backend (its Cargo feature was enabled).
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The backends compiled into this build.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| BackendError::Unknown(s.to_string()))
    }
}

/// Why a backend could not be selected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Not one of `flex`, `wgpu`, `cuda`.
    #[error("unknown backend `{0}`; expected one of flex, wgpu, cuda")]
    Unknown(String),
    /// Known, but its feature was not enabled in this build.
    #[error(
        "backend `{requested}` is not compiled into this build (compiled in: {}); rebuild with `--features {requested}`",
        compiled.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ")
    )]
    NotCompiled {
        /// The backend asked for.
        requested: Backend,
        /// What the build has.
        compiled: Vec<Backend>,
    },
    /// The build has no backend at all.
    #[error("this build has no backend; enable the `flex` (CPU), `wgpu` or `cuda` feature")]
    NoneCompiled,
}

/// Resolves the backend: `requested` if given, else `$KILN_BACKEND`, else the first compiled
/// backend in the order flex, wgpu, cuda (so a build with `cuda` still defaults to the CPU unless
/// asked; a GPU run is always explicit).
pub fn resolve_backend(requested: Option<&str>) -> Result<Backend, BackendError> {
    let from_env = std::env::var(BACKEND_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty());
    let choice = match requested.map(str::to_string).or(from_env) {
        Some(name) => name.parse::<Backend>()?,
        None => *Backend::compiled()
            .first()
            .ok_or(BackendError::NoneCompiled)?,
    };
    if choice.is_compiled() {
        Ok(choice)
    } else {
        Err(BackendError::NotCompiled {
            requested: choice,
            compiled: Backend::compiled(),
        })
    }
}

/// The device for a backend (the first GPU for `wgpu` and `cuda`).
pub fn device_for(backend: Backend) -> Result<Device, BackendError> {
    match backend {
        #[cfg(feature = "flex")]
        Backend::Flex => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Ok(Device::wgpu(burn::prelude::DeviceKind::DefaultDevice)),
        #[cfg(feature = "cuda")]
        Backend::Cuda => Ok(Device::cuda(0)),
        #[allow(unreachable_patterns)]
        other => Err(BackendError::NotCompiled {
            requested: other,
            compiled: Backend::compiled(),
        }),
    }
}

/// `--backend` / `$KILN_BACKEND` to a device, in one call.
pub fn select_device(requested: Option<&str>) -> Result<(Backend, Device), BackendError> {
    let backend = resolve_backend(requested)?;
    Ok((backend, device_for(backend)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
        }
        assert_eq!(" FLEX ".parse::<Backend>().unwrap(), Backend::Flex);
        let message = "tpu".parse::<Backend>().unwrap_err().to_string();
        assert!(message.contains("tpu") && message.contains("flex, wgpu, cuda"));
    }

    #[test]
    fn default_build_selects_flex_and_refuses_missing_backends() {
        assert!(Backend::Flex.is_compiled());
        assert_eq!(resolve_backend(Some("flex")).unwrap(), Backend::Flex);
        let (backend, device) = select_device(Some("flex")).unwrap();
        assert_eq!(backend, Backend::Flex);
        assert_eq!(device, Device::flex());
        if !Backend::Cuda.is_compiled() {
            let message = resolve_backend(Some("cuda")).unwrap_err().to_string();
            assert!(
                message.contains("not compiled") && message.contains("flex"),
                "{message}"
            );
            assert!(message.contains("--features cuda"), "{message}");
        }
    }
}
