using System.Runtime.InteropServices;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// Linux system calls that send on the calling thread without waiting: headers with MSG_MORE (the kernel holds them
/// until the body follows, as TCP_CORK would, without the two setsockopt calls around every response) and a file
/// region with sendfile. Each returns what the socket took at once; the caller queues the rest for the asynchronous
/// path. Only for sockets already in non-blocking mode, which .NET puts them in at their first asynchronous operation.
/// </summary>
internal static partial class LinuxSend
{
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;
    private const int MsgMore = 0x8000;
    private const int GetFlags = 3; // F_GETFL
    private const int NonBlocking = 0x800; // O_NONBLOCK on x64 and arm64
    private const int TryAgain = 11; // EAGAIN on x64 and arm64
    private const int Interrupted = 4; // EINTR

    /// <summary>Whether this process can use these calls at all (the constants above are those of x64 and arm64 Linux).</summary>
    public static bool Supported { get; } = OperatingSystem.IsLinux()
        && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <summary>True when the socket's descriptor is in non-blocking mode (so sendfile can never park the thread).</summary>
    public static bool IsNonBlocking(SafeHandle socket)
    {
        var added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            var flags = Fcntl((int)socket.DangerousGetHandle(), GetFlags, 0);
            return flags >= 0 && (flags & NonBlocking) != 0;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// One gathered send of the first <see cref="MaxGathered"/> segments, with MSG_MORE when <paramref name="more"/>
    /// (a body follows): bytes the socket took (0 when its buffer is full), or -1 when the connection is over.
    /// </summary>
    public static unsafe long SendGathered(SafeHandle socket, List<ArraySegment<byte>> segments, bool more)
    {
        var count = Math.Min(segments.Count, MaxGathered);
        var vectors = stackalloc IoVector[count];
        Span<GCHandle> pins = stackalloc GCHandle[count];
        var added = false;
        try
        {
            for (var i = 0; i < count; i++)
            {
                var segment = segments[i];
                pins[i] = GCHandle.Alloc(segment.Array, GCHandleType.Pinned);
                vectors[i] = new IoVector((byte*)pins[i].AddrOfPinnedObject() + segment.Offset, segment.Count);
            }

            socket.DangerousAddRef(ref added);
            var header = new MessageHeader { Vectors = vectors, VectorCount = count };
            var flags = MsgDontWait | MsgNoSignal | (more ? MsgMore : 0);
            long? outcome;
            do
            {
                outcome = Outcome(SendMessageSystemCall((int)socket.DangerousGetHandle(), &header, flags));
            }
            while (outcome is null);

            return outcome.Value;
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }

            for (var i = 0; i < count; i++)
            {
                if (pins[i].IsAllocated)
                {
                    pins[i].Free();
                }
            }
        }
    }

    /// <summary>
    /// Bytes of the file region the socket took, advancing <paramref name="offset"/> (0 when its buffer is full), or -1
    /// when the connection is over or the file ends before the region does.
    /// </summary>
    public static long SendFile(SafeHandle socket, SafeHandle file, ref long offset, int count)
    {
        var socketAdded = false;
        var fileAdded = false;
        try
        {
            socket.DangerousAddRef(ref socketAdded);
            file.DangerousAddRef(ref fileAdded);
            long? outcome;
            do
            {
                var sent = SendFileSystemCall((int)socket.DangerousGetHandle(), (int)file.DangerousGetHandle(), ref offset, count);
                // 0: the file is shorter than the region, nothing more will ever come
                outcome = sent == 0 ? -1 : Outcome(sent);
            }
            while (outcome is null);

            return outcome.Value;
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
        finally
        {
            if (fileAdded)
            {
                file.DangerousRelease();
            }

            if (socketAdded)
            {
                socket.DangerousRelease();
            }
        }
    }

    // A call's result: what it sent, 0 when the socket's buffer is full (EAGAIN), -1 when the connection is over; null
    // when a signal interrupted it before it sent anything (call again).
    private static long? Outcome(nint sent)
    {
        if (sent >= 0)
        {
            return sent;
        }

        var error = Marshal.GetLastPInvokeError();
        return error == Interrupted ? null : error == TryAgain ? 0 : -1;
    }

    /// <summary>The most segments one gathered send takes (Kestrel's headers, a body, perhaps a chunk terminator).</summary>
    public const int MaxGathered = 8;

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "sendfile", SetLastError = true)]
    private static partial nint SendFileSystemCall(int outFd, int inFd, ref long offset, nint count);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static unsafe partial nint SendMessageSystemCall(int fd, MessageHeader* header, int flags);

    // struct iovec
    private readonly unsafe struct IoVector(byte* start, nint length)
    {
        public readonly byte* Start = start;
        public readonly nint Length = length;
    }

    // struct msghdr of 64-bit Linux: no address, no control data
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct MessageHeader
    {
        public void* Name;
        public int NameLength;
        public IoVector* Vectors;
        public nint VectorCount;
        public void* Control;
        public nint ControlLength;
        public int Flags;
    }
}
