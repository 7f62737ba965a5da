using System.Buffers;
using System.IO.Pipelines;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// A reader that counts how far its consumer has looked: the bytes examined (parsed, or seen to be the start of a box
/// that is not complete yet), and how many of them it had examined when it last came back for more, that is when it had
/// finished with them (a fragment indexed and archived, an 'mfra' noted). A continued ingest answers a request once the
/// session has finished with everything it sent.
/// </summary>
internal sealed class ProgressPipeReader(PipeReader inner) : PipeReader
{
    private readonly Lock _lock = new();
    private ReadOnlySequence<byte> _last;
    private long _consumed;
    private long _examined;
    private long _finished;
    private TaskCompletionSource _stepped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// The bytes the consumer had examined when it last asked for more (it is done with them), and a task that
    /// completes at its next step, read together: a step between reading one and then the other would leave a waiter
    /// on a later step that may never come.
    /// </summary>
    public (long Finished, Task Stepped) Progress()
    {
        lock (_lock)
        {
            return (_finished, _stepped.Task);
        }
    }

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        Step();
        var result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
        _last = result.Buffer;
        return result;
    }

    public override bool TryRead(out ReadResult result)
    {
        Step();
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
        lock (_lock)
        {
            _examined = Math.Max(_examined, _consumed + examinedLength);
            _consumed += consumedLength;
        }
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    // The consumer asks for more: it is done with what it examined; whoever waits for that is woken (only here, as
    // nothing else moves Finished).
    private void Step()
    {
        TaskCompletionSource stepped;
        lock (_lock)
        {
            _finished = _examined;
            stepped = _stepped;
            _stepped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        stepped.TrySetResult();
    }
}
