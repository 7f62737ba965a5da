using System.Buffers;
using System.IO.Pipelines;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// Kestrel's input on a connection of <see cref="AnswerReplay"/>: the request heads the lane hands it, one at a time
/// (<see cref="Feed"/>), in the order they came; from <see cref="HandOver"/> on, the socket's own input. Kestrel asking
/// for more than it was fed is how the lane learns that Kestrel has answered and waits (<see cref="WaitForKestrelAsync"/>).
/// </summary>
internal sealed class FedInput(PipeReader socket) : PipeReader
{
    private readonly Lock _lock = new();
    private byte[] _data = [];
    private int _start;
    private int _end;
    private bool _examinedAll;
    private bool _cancelNext;
    private bool _handedOver;
    private bool _ended;
    private bool _completed;
    private bool _kestrelWaits;
    private TaskCompletionSource<ReadResult>? _read;
    private TaskCompletionSource<bool>? _waiting;

    /// <summary>Kestrel is done with the connection (it completed its input).</summary>
    public bool Completed
    {
        get
        {
            lock (_lock)
            {
                return _completed;
            }
        }
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        TaskCompletionSource<bool>? waiting;
        TaskCompletionSource<ReadResult> read;
        lock (_lock)
        {
            if (_handedOver)
            {
                return socket.ReadAsync(cancellationToken);
            }

            if (_cancelNext || (_end > _start && !_examinedAll) || _ended)
            {
                var result = new ReadResult(Buffer(), _cancelNext, _ended && !_cancelNext);
                _cancelNext = false;
                return ValueTask.FromResult(result);
            }

            // Continued on the thread that feeds it (the lane's): Kestrel answers inline, as it would from the socket.
            read = _read = new TaskCompletionSource<ReadResult>();
            _kestrelWaits = true;
            waiting = _waiting;
            _waiting = null;
        }

        if (cancellationToken.CanBeCanceled)
        {
            cancellationToken.Register(static state => ((TaskCompletionSource<ReadResult>)state!).TrySetCanceled(), read);
        }

        waiting?.TrySetResult(true);
        return new ValueTask<ReadResult>(read.Task);
    }

    public override bool TryRead(out ReadResult result)
    {
        lock (_lock)
        {
            if (!_handedOver)
            {
                var ready = _cancelNext || (_end > _start && !_examinedAll) || _ended;
                result = ready ? new ReadResult(Buffer(), _cancelNext, _ended && !_cancelNext) : default;
                _cancelNext = false;
                return ready;
            }
        }

        return socket.TryRead(out result);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        lock (_lock)
        {
            // Positions in a buffer over _data are indexes into it; positions of the socket's own buffers go to the socket
            // (a buffer Kestrel was given before the hand-over is still one of ours).
            if (!_handedOver || ReferenceEquals(consumed.GetObject(), _data))
            {
                _start = consumed.GetObject() is null ? _start : consumed.GetInteger();
                _examinedAll = (examined.GetObject() is null ? _start : examined.GetInteger()) >= _end;
                if (_start >= _end)
                {
                    _start = _end = 0;
                }

                return;
            }
        }

        socket.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead()
    {
        TaskCompletionSource<ReadResult>? read = null;
        var result = default(ReadResult);
        bool handedOver;
        lock (_lock)
        {
            handedOver = _handedOver;
            if (!handedOver)
            {
                read = TakeRead();
                _cancelNext = read is null;
                result = new ReadResult(Buffer(), isCanceled: true, isCompleted: false);
            }
        }

        if (handedOver)
        {
            socket.CancelPendingRead();
            return;
        }

        read?.TrySetResult(result);
    }

    public override void Complete(Exception? exception = null)
    {
        TaskCompletionSource<bool>? waiting;
        bool handedOver;
        lock (_lock)
        {
            _completed = true;
            handedOver = _handedOver;
            waiting = _waiting;
            _waiting = null;
        }

        waiting?.TrySetResult(false);
        if (handedOver)
        {
            socket.Complete(exception);
        }
        else
        {
            // The lane may be waiting for the next request: Kestrel has finished with the connection.
            socket.CancelPendingRead();
        }
    }

    /// <summary>Hands Kestrel one request head (it was waiting for it: see <see cref="WaitForKestrelAsync"/>).</summary>
    public void Feed(ReadOnlySpan<byte> head)
    {
        TaskCompletionSource<ReadResult>? read;
        ReadResult result;
        lock (_lock)
        {
            if (_data.Length - _end < head.Length)
            {
                var grown = new byte[Math.Max(Math.Max(_data.Length * 2, 512), _end - _start + head.Length)];
                _data.AsSpan(_start, _end - _start).CopyTo(grown);
                _end -= _start;
                _start = 0;
                _data = grown;
            }

            head.CopyTo(_data.AsSpan(_end));
            _end += head.Length;
            _examinedAll = false;
            read = TakeRead();
            result = new ReadResult(Buffer(), false, false);
        }

        read?.TrySetResult(result);
    }

    /// <summary>True once Kestrel has answered everything it was fed and waits for more; false when it ended the connection.</summary>
    public ValueTask<bool> WaitForKestrelAsync()
    {
        lock (_lock)
        {
            if (_completed)
            {
                return ValueTask.FromResult(false);
            }

            if (_kestrelWaits)
            {
                return ValueTask.FromResult(true);
            }

            // Set by Kestrel's next read, perhaps from the thread a request finished on: the lane goes on from the pool.
            _waiting = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            return new ValueTask<bool>(_waiting.Task);
        }
    }

    /// <summary>
    /// From now on Kestrel reads the socket itself, from where the lane stopped (it consumed nothing of what is left).
    /// False when Kestrel still holds fed bytes it has not consumed: it could not be given the socket's after them.
    /// </summary>
    public bool HandOver()
    {
        TaskCompletionSource<ReadResult>? read;
        lock (_lock)
        {
            if (_end > _start)
            {
                return false;
            }

            _handedOver = true;
            read = _read;
            _read = null;
        }

        if (read is not null)
        {
            _ = ForwardAsync(read);
        }

        return true;
    }

    /// <summary>The socket's input ended: so does Kestrel's.</summary>
    public void End()
    {
        TaskCompletionSource<ReadResult>? read;
        ReadResult result;
        lock (_lock)
        {
            _ended = true;
            read = TakeRead();
            result = new ReadResult(Buffer(), false, true);
        }

        read?.TrySetResult(result);
    }

    private async Task ForwardAsync(TaskCompletionSource<ReadResult> read)
    {
        try
        {
            read.TrySetResult(await socket.ReadAsync().ConfigureAwait(false));
        }
        catch (Exception e)
        {
            read.TrySetException(e);
        }
    }

    private ReadOnlySequence<byte> Buffer() => new(_data, _start, _end - _start);

    // Kestrel's waiting read, taken to be completed outside the lock (under it).
    private TaskCompletionSource<ReadResult>? TakeRead()
    {
        var read = _read;
        _read = null;
        _kestrelWaits = false;
        return read;
    }
}
