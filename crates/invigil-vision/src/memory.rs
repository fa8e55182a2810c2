//! Handing the memory freed after loading models back to the system.
//!
//! Loading a model allocates several times its final size on the way
//! (the ONNX bytes parsed, f16 weights widened to f32, then packed for the
//! matrix kernels). glibc's allocator keeps most of what is freed in its
//! heap for reuse, so a process that has loaded the face, landmark, object
//! and SFace models holds ~180 MB where ~100 MB is in use (docs/
//! performance.md, "The candidate app"). [`release_freed`] asks the
//! allocator to return its free pages once a model is loaded.

/// Returns the allocator's free memory to the operating system (glibc's
/// `malloc_trim`); does nothing on other platforms, whose allocators return
/// large freed blocks by themselves. Cheap enough to call after every model
/// load (a few milliseconds), not per frame.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer, only the padding to keep at the
    // top of the heap; glibc documents it as thread-safe (MT-Safe), taking
    // each arena's lock while it trims.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}
