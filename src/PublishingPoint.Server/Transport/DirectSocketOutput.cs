using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// The output of one plain-TCP connection, sent by Kestrel straight to the socket instead of through the socket
/// transport's pipe. Kestrel's own bytes (status lines, headers, small bodies) are kept in pooled 64 KB chunks;
/// a large body already in memory (a cached segment) is queued by reference with <see cref="TryQueueBody"/>, and
/// Kestrel then accounts for its length without copying anything (<see cref="GetMemory"/> hands out a scratch
/// buffer nobody reads). Each flush is one gathered send of everything queued, in order, so headers and body
/// leave in one system call; a body queued as a <see cref="SpooledFile"/> region goes with sendfile, the headers held
/// back with MSG_MORE so they ride with the file data (the way nginx serves static files, which corks the socket
/// instead). On Linux both are tried on the flushing thread first (<see cref="LinuxSend"/>); only what the socket
/// cannot take at once goes through the socket's asynchronous operations, which wait for it to drain.
/// Kestrel serialises calls to an output writer; only <see cref="Complete"/> may race a flush.
/// </summary>
internal sealed class DirectSocketOutput : PipeWriter, IDirectBodyFeature
{
    private const int ChunkSize = 64 * 1024;
    private const int SendBufferBytes = 2 * 1024 * 1024;
    // After Kestrel is done with a connection nothing times its last sends any more: they get this long, then the socket is cut.
    private static readonly TimeSpan _drainLimit = TimeSpan.FromSeconds(30);
    // Placeholder space for a body queued by reference: Kestrel "writes" into it to count the bytes; never sent.
    private static readonly byte[] _scratch = new byte[ChunkSize];
    private readonly Socket _socket;
    private readonly List<ArraySegment<byte>> _queued = [];
    // Bodies queued as file regions, each sent after the _queued segments before its index.
    private readonly List<(int Index, SpooledFile File, long Offset, int Count)> _files = [];
    private readonly List<byte[]> _rented = [];
    private readonly Lock _lock = new();
    private byte[]? _chunk;
    private int _chunkUsed;
    private long _placeholderLeft;
    private long _queuedBytes;
    private bool _flushing;
    private bool _completed;
    private bool _failed;
    private bool _cancelNextFlush;
    private PacketsSend? _packets;
    private bool _bufferRaised;
    // Whether TrySendInline may be used on this connection: 0 not yet known, 1 yes, -1 no.
    private int _inline;
    private SafeHandle? _socketHandle;

    public DirectSocketOutput(Socket socket) => _socket = socket;

    public TransportMetrics? Metrics { get; init; }

    /// <summary>Where an answer that waits for the client is counted (and from where it is cut when too much waits).</summary>
    public UnsentAnswers? Unsent { get; init; }

    internal LinkedListNode<DirectSocketOutput>? UnsentNode { get; set; }

    internal long UnsentBytes { get; set; }

    internal List<byte[]> UnsentShared { get; set; } = [];

    internal long UnsentGeneration { get; set; }

    public bool AcceptsBodies => !_failed && !_completed && _placeholderLeft == 0;

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _queuedBytes;

    public bool TryQueueBody(ReadOnlyMemory<byte> body)
    {
        if (!AcceptsBodies || body.IsEmpty || !MemoryMarshal.TryGetArray(body, out var segment))
        {
            return false;
        }

        _queued.Add(segment);
        _queuedBytes += segment.Count;
        _placeholderLeft = segment.Count;
        return true;
    }

    public bool TryQueueFile(SpooledFile file, long offset, int count)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!AcceptsBodies || count <= 0 || offset < 0 || offset + count > file.Length || !file.TryLease())
        {
            return false;
        }

        RaiseSendBuffer();
        _files.Add((_queued.Count, file, offset, count));
        _queuedBytes += count;
        _placeholderLeft = count;
        return true;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        if (_placeholderLeft > 0)
        {
            var length = (int)Math.Min(_placeholderLeft, ChunkSize);
            return sizeHint <= length ? _scratch.AsMemory(0, length) : new byte[sizeHint];
        }

        var needed = Math.Max(sizeHint, 1);
        if (_chunk is null || _chunk.Length - _chunkUsed < needed)
        {
            _chunk = ArrayPool<byte>.Shared.Rent(Math.Max(needed, ChunkSize));
            _chunkUsed = 0;
            _rented.Add(_chunk);
        }

        return _chunk.AsMemory(_chunkUsed);
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (_placeholderLeft > 0)
        {
            if (bytes > _placeholderLeft)
            {
                throw new InvalidOperationException("more bytes advanced than the queued body holds");
            }

            _placeholderLeft -= bytes;
            return;
        }

        if (bytes == 0)
        {
            return;
        }

        if (_chunk is null || _chunk.Length - _chunkUsed < bytes)
        {
            throw new InvalidOperationException("advanced past the memory handed out");
        }

        var last = _queued.Count - 1;
        if (last >= 0 && ReferenceEquals(_queued[last].Array, _chunk) && _queued[last].Offset + _queued[last].Count == _chunkUsed)
        {
            _queued[last] = new ArraySegment<byte>(_chunk, _queued[last].Offset, _queued[last].Count + bytes);
        }
        else
        {
            _queued.Add(new ArraySegment<byte>(_chunk, _chunkUsed, bytes));
        }

        _chunkUsed += bytes;
        _queuedBytes += bytes;
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_cancelNextFlush)
        {
            _cancelNextFlush = false;
            return ValueTask.FromResult(new FlushResult(isCanceled: true, isCompleted: false));
        }

        if (_failed || _completed)
        {
            return ValueTask.FromResult(new FlushResult(isCanceled: false, isCompleted: true));
        }

        return _queuedBytes == 0 ? ValueTask.FromResult(default(FlushResult)) : SendQueuedAsync();
    }

    public override void CancelPendingFlush() => _cancelNextFlush = true;

    // Kestrel completes after its last flush; anything it left unflushed is sent by DrainAsync.
    public override void Complete(Exception? exception = null)
    {
        lock (_lock)
        {
            _completed = true;
        }
    }

    /// <summary>After Kestrel has finished with the connection: sends what it left unflushed and returns the buffers.</summary>
    public async Task DrainAsync()
    {
        if (!_failed && _queuedBytes > 0 && !_flushing)
        {
            var send = SendQueuedAsync().AsTask();
            if (await Task.WhenAny(send, Task.Delay(_drainLimit)).ConfigureAwait(false) != send)
            {
                // A client that stopped reading: close the socket under the send, which then ends as failed.
                _failed = true;
                _socket.Close(0);
                await send.ConfigureAwait(false);
            }
        }

        lock (_lock)
        {
            _completed = true;
            if (!_flushing)
            {
                Release();
                ReleaseFiles();
                _packets?.Dispose();
            }
        }
    }

    /// <summary>
    /// Closes the connection under a send that waits for a client that does not read (<see cref="UnsentAnswers"/>):
    /// only if it still waits in the <paramref name="generation"/> it was chosen in, not once it caught up and sends another answer.
    /// </summary>
    public void Cut(long generation)
    {
        lock (_lock)
        {
            if (UnsentGeneration != generation || !_flushing)
            {
                return;
            }
        }

        _failed = true;
        try
        {
            _socket.Close(0);
        }
        catch (ObjectDisposedException)
        {
            // already closed
        }
    }

    private async ValueTask<FlushResult> SendQueuedAsync()
    {
        lock (_lock)
        {
            _flushing = true;
        }

        var waiting = false;
        try
        {
            if (_files.Count > 0)
            {
                return await SendWithFilesAsync().ConfigureAwait(false);
            }

            if (_queued.Count <= LinuxSend.MaxGathered && CanSendInline())
            {
                // Usually the whole answer goes here, on this thread; what the socket cannot take now waits below.
                var sent = LinuxSend.SendGathered(_socketHandle!, _queued, more: false);
                if (sent < 0)
                {
                    _failed = true;
                    return new FlushResult(isCanceled: false, isCompleted: true);
                }

                DropSent((int)sent);
                if (_queued.Count > 0)
                {
                    Metrics?.SendWaited();
                }
            }

            if (_queued.Count > 0 && Unsent is { } unsent)
            {
                var (owned, shared) = QueuedMemory();
                unsent.Wait(this, owned, shared);
                waiting = true;
            }

            while (_queued.Count > 0)
            {
                var sent = await _socket.SendAsync(_queued, SocketFlags.None).ConfigureAwait(false);
                DropSent(sent);
            }

            return default;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever a send fails with (a reset peer: SocketException, ObjectDisposedException, or NotSupportedException
            // from SendPacketsAsync on a socket already seen as disconnected), the connection is over; nothing to log.
            _failed = true;
            return new FlushResult(isCanceled: false, isCompleted: true);
        }
        finally
        {
            if (waiting)
            {
                Unsent!.Done(this);
            }

            lock (_lock)
            {
                _flushing = false;
                _queued.Clear();
                _queuedBytes = 0;
                ReleaseFiles();
                Release();
                if (_completed)
                {
                    // Kestrel finished with the connection while this send was under way: nothing sends after it.
                    _packets?.Dispose();
                }
            }
        }
    }

    private async ValueTask<FlushResult> SendWithFilesAsync()
    {
        if (TrySendInline())
        {
            return default;
        }

        if (_failed)
        {
            return new FlushResult(isCanceled: false, isCompleted: true);
        }

        if (_queued.Count == 0)
        {
            // The headers went: only the file waits for the socket now, and a client that reads slowly would hold their
            // 64 KB chunk for as long as the file takes, outside what MaxUnsentAnswerBytes counts.
            lock (_lock)
            {
                Release();
            }
        }

        var elements = new SendPacketsElement[_queued.Count + _files.Count];
        var next = 0;
        var file = 0;
        for (var i = 0; i <= _queued.Count; i++)
        {
            for (; file < _files.Count && _files[file].Index == i; file++)
            {
                var (_, spooled, offset, count) = _files[file];
                elements[next++] = new SendPacketsElement(spooled.Stream, offset, count, endOfPacket: false);
            }

            if (i < _queued.Count)
            {
                elements[next++] = new SendPacketsElement(_queued[i].AsMemory(), endOfPacket: false);
            }
        }

        var cork = OperatingSystem.IsLinux();
        if (cork)
        {
            Cork(true);
        }

        _packets ??= new PacketsSend();
        var error = await _packets.SendAsync(_socket, elements).ConfigureAwait(false);
        if (cork && error == SocketError.Success)
        {
            Cork(false);
        }

        if (error != SocketError.Success)
        {
            _failed = true;
            return new FlushResult(isCanceled: false, isCompleted: true);
        }

        return default;
    }

    // Linux, headers then one file region (a cached segment's answer): the headers with MSG_MORE and the file with
    // sendfile, on this thread, two system calls where the asynchronous path takes four (TCP_CORK on and off around
    // them) plus its task. True when everything went; otherwise what the socket did not take stays queued for that path.
    private bool TrySendInline()
    {
        if (_files.Count != 1 || _files[0].Index != _queued.Count || _queued.Count > 1 || !CanSendInline())
        {
            return false;
        }

        var (_, file, offset, count) = _files[0];
        if (_queued.Count == 1)
        {
            var head = _queued[0];
            var sent = LinuxSend.SendGathered(_socketHandle!, _queued, more: true);
            if (sent < head.Count)
            {
                return Waits(sent);
            }

            _queued.Clear();
            _files[0] = (0, file, offset, count);
        }

        while (count > 0)
        {
            var sent = LinuxSend.SendFile(_socketHandle!, file.Handle, ref offset, count);
            if (sent <= 0)
            {
                _files[0] = (0, file, offset, count);
                return Waits(sent);
            }

            count -= (int)sent;
        }

        return true;
    }

    // The socket took only part (sent >= 0: the rest waits for it on the asynchronous path), or the connection is over.
    private bool Waits(long sent)
    {
        if (sent < 0)
        {
            _failed = true;
            return false;
        }

        DropSent((int)sent);
        Metrics?.SendWaited();
        return false;
    }

    private bool CanSendInline()
    {
        if (_inline == 0)
        {
            // Asked for only where it is used: reading Socket.SafeHandle marks the handle as exposed.
            _inline = LinuxSend.Supported && LinuxSend.IsNonBlocking(_socketHandle = _socket.SafeHandle) ? 1 : -1;
        }

        return _inline > 0;
    }

    // A send buffer that takes a whole segment lets sendfile finish in one call instead of waiting for the socket to
    // drain several times (each wait is a trip through the thread pool). The buffer holds references to page-cache
    // pages the file already has, not copies, so a larger one costs little; Linux caps it at net.core.wmem_max.
    private void RaiseSendBuffer()
    {
        if (_bufferRaised)
        {
            return;
        }

        _bufferRaised = true;
        try
        {
            if (_socket.SendBufferSize < SendBufferBytes)
            {
                _socket.SendBufferSize = SendBufferBytes;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // the system's default stays (or the connection is already gone, which the send will find)
        }
    }

    // TCP_CORK (Linux): hold partial segments until uncorked, so the headers ride with the first file data.
    private void Cork(bool on) => _socket.SetRawSocketOption(6 /* IPPROTO_TCP */, 3 /* TCP_CORK */, on ? [1, 0, 0, 0] : [0, 0, 0, 0]);

    // What the queued bytes hold in memory: the connection's own chunks (whole: they are rented whole) and the arrays
    // of bodies queued by reference, which other answers may share.
    private (long Owned, List<byte[]> Shared) QueuedMemory()
    {
        var owned = 0L;
        var shared = new List<byte[]>();
        foreach (var chunk in _rented)
        {
            owned += chunk.Length;
        }

        foreach (var segment in _queued)
        {
            if (segment.Array is { } array && !_rented.Contains(array) && !shared.Contains(array))
            {
                shared.Add(array);
            }
        }

        return (owned, shared);
    }

    private void DropSent(int sent)
    {
        var whole = 0;
        while (whole < _queued.Count && sent >= _queued[whole].Count)
        {
            sent -= _queued[whole].Count;
            whole++;
        }

        _queued.RemoveRange(0, whole);
        if (sent > 0)
        {
            _queued[0] = _queued[0].Slice(sent);
        }
    }

    // SendPacketsAsync wrapped as a task: memory and file regions in one operation (sendfile for the files).
    private sealed class PacketsSend : SocketAsyncEventArgs
    {
        private TaskCompletionSource<SocketError>? _done;

        public PacketsSend()
            : base(unsafeSuppressExecutionContextFlow: true)
        {
        }

        public Task<SocketError> SendAsync(Socket socket, SendPacketsElement[] elements)
        {
            SendPacketsElements = elements;
            // Continuations run inline on the completing thread: what follows is Kestrel finishing the response.
            var done = _done = new TaskCompletionSource<SocketError>();
            try
            {
                if (!socket.SendPacketsAsync(this))
                {
                    done.TrySetResult(SocketError);
                }
            }
            catch (Exception e) when (e is ObjectDisposedException or NotSupportedException or SocketException or InvalidOperationException)
            {
                done.TrySetResult(SocketError.OperationAborted);
            }

            return done.Task;
        }

        protected override void OnCompleted(SocketAsyncEventArgs e) => _done?.TrySetResult(e.SocketError);
    }

    private void ReleaseFiles()
    {
        foreach (var file in _files)
        {
            file.File.Release();
        }

        _files.Clear();
    }

    // Everything queued has been sent (or never will be): the chunks go back to the pool, the current one too, so an
    // idle keep-alive connection holds none (the next answer rents one warm from the pool).
    private void Release()
    {
        foreach (var chunk in _rented)
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        _rented.Clear();
        _chunk = null;
        _chunkUsed = 0;
    }
}
