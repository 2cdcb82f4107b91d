//! `Sock`: a TCP stream read and written through `AsyncFd`, to save one syscall per request.
//!
//! `tokio::net::TcpStream::read_buf` learns that a socket is drained only from an `EAGAIN`
//! read, so a request/response client costs read + write + a failed read per request. Here a
//! read that returns less than the space offered proves the kernel buffer was drained at that
//! moment, so readiness is cleared without the failed read. This is safe with tokio's
//! edge-triggered epoll: data arriving later raises a new edge, and `clear_ready` only clears
//! the readiness it observed (a tick check), never an event that arrived after it.

use bytes::BytesMut;
use std::io::{self, Write};
use std::net::TcpStream as StdStream;
use tokio::io::unix::AsyncFd;

pub struct Sock {
    fd: AsyncFd<StdStream>,
}

impl Sock {
    pub fn from_std(std: StdStream) -> io::Result<Sock> {
        std.set_nonblocking(true)?;
        // SAFETY: the std stream owns a valid descriptor, and it is neither replaced nor
        // closed while the AsyncFd owns it (it is closed when the AsyncFd is dropped).
        Ok(Sock {
            fd: unsafe { AsyncFd::register(std)? },
        })
    }

    pub fn get_ref(&self) -> &StdStream {
        self.fd.get_ref()
    }

    /// Deregister from this thread's reactor, giving the stream back (to move it).
    pub fn into_std(self) -> io::Result<StdStream> {
        Ok(self.fd.into_inner())
    }

    /// Read whatever is available into `buf`'s spare capacity (which must be non-empty).
    /// Returns 0 at end of stream.
    pub async fn read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            let spare = buf.spare_capacity_mut();
            let want = spare.len();
            match socket2::SockRef::from(guard.get_inner()).recv(spare) {
                Ok(n) => {
                    // SAFETY: recv initialised the first n bytes of the spare capacity.
                    unsafe { buf.set_len(buf.len() + n) };
                    if n > 0 && n < want {
                        guard.clear_ready();
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Write all of `data`.
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|inner| (&mut inner.get_ref()).write(data)) {
                Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
        Ok(())
    }
}
