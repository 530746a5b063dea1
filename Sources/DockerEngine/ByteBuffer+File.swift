import MicadoCore
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

extension ByteBuffer {
    /// Writes every readable byte to the open file `descriptor` (a spooled upload, a copy,
    /// a download), retrying short writes and interruptions.
    public func writeAll(to descriptor: Int32) throws(MicadoError) {
        let failure: MicadoError? = withUnsafeReadableBytes { bytes in
            guard let base = bytes.baseAddress else { return nil }  // an empty piece
            var done = 0
            while done < bytes.count {
                let n = write(descriptor, base + done, bytes.count - done)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { return MicadoError(.internal, "cannot write to a file: \(String(cString: strerror(errno)))") }
                done += n
            }
            return nil
        }
        if let failure { throw failure }
    }
}
