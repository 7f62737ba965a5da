using System.IO.Pipelines;

namespace PublishingPoint.Server.Ingest;

/// <summary>No byte arrived for the configured time.</summary>
internal sealed class IdleTimeoutException : TimeoutException
{
    public IdleTimeoutException()
    {
    }

    public IdleTimeoutException(string message) : base(message)
    {
    }

    public IdleTimeoutException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>A request body that fails with <see cref="IdleTimeoutException"/> when a read waits longer than the idle limit.</summary>
internal sealed class IdleTimeoutPipeReader(PipeReader inner, TimeSpan idle, TimeProvider time) : PipeReader
{
    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (inner.TryRead(out var ready))
        {
            return ready;
        }

        using var timer = new CancellationTokenSource(idle, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            return await inner.ReadAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timer.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new IdleTimeoutException($"no data for {idle.TotalSeconds:0} s");
        }
    }

    public override bool TryRead(out ReadResult result) => inner.TryRead(out result);

    public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);
}
