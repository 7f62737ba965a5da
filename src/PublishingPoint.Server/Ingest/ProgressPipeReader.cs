using System.Buffers;
using System.IO.Pipelines;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// A reader that counts how far its consumer has looked: the bytes examined (parsed, or seen to be the start of a box
/// that is not complete yet). A continued ingest answers a request once the session has examined everything it sent.
/// </summary>
internal sealed class ProgressPipeReader(PipeReader inner) : PipeReader
{
    private readonly Lock _lock = new();
    private ReadOnlySequence<byte> _last;
    private long _consumed;
    private long _examined;
    private TaskCompletionSource _advanced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Examined
    {
        get
        {
            lock (_lock)
            {
                return _examined;
            }
        }
    }

    /// <summary>Completes at the next advance of the consumer.</summary>
    public Task Advanced
    {
        get
        {
            lock (_lock)
            {
                return _advanced.Task;
            }
        }
    }

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
        _last = result.Buffer;
        return result;
    }

    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result))
        {
            return false;
        }

        _last = result.Buffer;
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        var consumedLength = _last.Slice(_last.Start, consumed).Length;
        var examinedLength = _last.Slice(_last.Start, examined).Length;
        inner.AdvanceTo(consumed, examined);
        TaskCompletionSource advanced;
        lock (_lock)
        {
            _examined = Math.Max(_examined, _consumed + examinedLength);
            _consumed += consumedLength;
            advanced = _advanced;
            _advanced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        advanced.TrySetResult();
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);
}
