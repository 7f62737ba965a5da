using PublishingPoint.Server.Delivery;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>Time-shifted answers are made a few at a time, with a bounded queue: past it a request is refused at once.</summary>
public sealed class RenderGateTests
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task TurnsAreGivenInOrder_PastTheQueueRequestsAreRefused_AndACanceledWaitFreesItsPlace()
    {
        using var gate = new RenderGate(concurrency: 1, maxWaiting: 2);
        var first = await gate.EnterAsync(CancellationToken.None);
        Assert.NotNull(first);
        var second = gate.EnterAsync(CancellationToken.None).AsTask();
        var third = gate.EnterAsync(CancellationToken.None).AsTask();
        Assert.False(second.IsCompleted);
        Assert.Null(await gate.EnterAsync(CancellationToken.None)); // one rendering, two waiting: refused

        first!.Dispose();
        first.Dispose(); // a second dispose gives back nothing more
        (await second.WaitAsync(Soon))!.Dispose();
        var holding = await third.WaitAsync(Soon);
        Assert.NotNull(holding);

        using var cancel = new CancellationTokenSource();
        var canceled = gate.EnterAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled);

        var fourth = gate.EnterAsync(CancellationToken.None).AsTask();
        var fifth = gate.EnterAsync(CancellationToken.None).AsTask();
        Assert.False(fourth.IsCompleted || fifth.IsCompleted); // both wait: the canceled one left no place taken
        Assert.Null(await gate.EnterAsync(CancellationToken.None));

        holding!.Dispose();
        (await fourth.WaitAsync(Soon))!.Dispose();
        (await fifth.WaitAsync(Soon))!.Dispose();
        using var again = await gate.EnterAsync(CancellationToken.None);
        Assert.NotNull(again);
    }
}
