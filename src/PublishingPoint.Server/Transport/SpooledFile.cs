using Microsoft.Win32.SafeHandles;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// A copy of a cached body in a file, so a plain-HTTP/1 connection can send it with sendfile: the kernel hands the
/// file's page-cache pages to the socket, the way nginx serves static files, instead of copying the bytes from our
/// memory. The file is unlinked as soon as it is written (it lives as long as its handle) so nothing is left behind.
/// Senders lease the handle for the length of a send; disposing it while one is in flight closes it afterwards.
/// </summary>
internal sealed class SpooledFile : IDisposable
{
    private readonly FileStream _stream;
    // Taken once: FileStream.SafeFileHandle seeks the file to the stream's position on every read of the property.
    private readonly SafeFileHandle _handle;

    private readonly Action? _onDispose;
    private int _disposed;
    private int _leases;
    private int _closed;

    private SpooledFile(FileStream stream, long length, Action? onDispose)
    {
        _stream = stream;
        _handle = stream.SafeFileHandle;
        Length = length;
        _onDispose = onDispose;
    }

    public long Length { get; }

    /// <summary>Opened for asynchronous I/O, as <see cref="System.Net.Sockets.SendPacketsElement"/> requires.</summary>
    public FileStream Stream => _stream;

    /// <summary>The file's handle, for sendfile and positioned reads (closed once the file is disposed and no lease is left).</summary>
    public SafeFileHandle Handle => _handle;

    /// <summary>Writes <paramref name="bytes"/> to a new file in <paramref name="folder"/>; null when that fails (full disk, no folder).</summary>
    public static SpooledFile? TryCreate(string folder, ReadOnlySpan<byte> bytes, Action? onDispose = null)
    {
        var path = Path.Combine(folder, Guid.NewGuid().ToString("N") + ".seg");
        FileStream? stream = null;
        try
        {
            var options = FileOptions.Asynchronous | (OperatingSystem.IsWindows() ? FileOptions.DeleteOnClose : FileOptions.None);
            stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete, 0, options);
            RandomAccess.Write(stream.SafeFileHandle, bytes, 0);
            if (!OperatingSystem.IsWindows())
            {
                File.Delete(path);
            }

            return new SpooledFile(stream, bytes.Length, onDispose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stream?.Dispose();
            TryDelete(path);
            return null;
        }
    }

    /// <summary>Keeps the handle open until <see cref="Release"/>, even if the file is disposed meanwhile; false once disposed.</summary>
    public bool TryLease()
    {
        var leased = false;
        if (Volatile.Read(ref _disposed) != 0)
        {
            return false;
        }

        // Counted before the handle is taken: a dispose meanwhile then leaves the closing to this lease's release.
        Interlocked.Increment(ref _leases);
        try
        {
            _handle.DangerousAddRef(ref leased);
        }
        catch (ObjectDisposedException)
        {
        }

        if (!leased)
        {
            EndLease();
        }

        return leased;
    }

    public void Release()
    {
        _handle.DangerousRelease();
        EndLease();
    }

    /// <summary>
    /// No new lease from now on; the descriptor (and the unlinked file's disk space) goes with the last one, and only
    /// then does the file stop counting against the spool's bound: a slow reader keeps holding what it holds.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _stream.Dispose();
            if (Volatile.Read(ref _leases) == 0)
            {
                Closed();
            }
        }
    }

    private void EndLease()
    {
        if (Interlocked.Decrement(ref _leases) == 0 && Volatile.Read(ref _disposed) != 0)
        {
            Closed();
        }
    }

    private void Closed()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _onDispose?.Invoke();
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // nothing more to do: the spool folder is the operator's temporary space
        }
    }
}
