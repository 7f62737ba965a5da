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

    [Fact]
    public async Task OneClient_HoldsAtMostItsShare_WhileOthersStillGetPlaces()
    {
        using var gate = new RenderGate(concurrency: 1, maxWaiting: 100, maxPerClient: 2);
        UInt128 flooder = 1, viewer = 2;
        var (first, _) = await gate.EnterAsync(flooder, CancellationToken.None);
        Assert.NotNull(first);
        var second = gate.EnterAsync(flooder, CancellationToken.None).AsTask();
        var (none, refused) = await gate.EnterAsync(flooder, CancellationToken.None).AsTask().WaitAsync(Soon);
        Assert.Null(none);
        Assert.Equal(RenderGate.Refusal.ClientShare, refused);

        // Another client, and one that is not limited (a trusted proxy), wait for turns in order of arrival.
        var other = gate.EnterAsync(viewer, CancellationToken.None).AsTask();
        var proxied = Enumerable.Range(0, 5).Select(_ => gate.EnterAsync(null, CancellationToken.None).AsTask()).ToList();
        Assert.False(other.IsCompleted || proxied.Any(p => p.IsCompleted));

        first!.Dispose();
        var (secondTurn, _) = await second.WaitAsync(Soon);
        Assert.NotNull(secondTurn);
        var third = gate.EnterAsync(flooder, CancellationToken.None).AsTask(); // its first turn given back: one more place
        Assert.Equal(RenderGate.Refusal.ClientShare, (await gate.EnterAsync(flooder, CancellationToken.None).AsTask().WaitAsync(Soon)).Refused);

        // The turns go in order of arrival: the other client, the proxied ones, then the flooder's third.
        secondTurn!.Dispose();
        var (otherTurn, _) = await other.WaitAsync(Soon);
        Assert.NotNull(otherTurn);
        Assert.False(third.IsCompleted);
        otherTurn!.Dispose();
        foreach (var p in proxied)
        {
            var (turn, _) = await p.WaitAsync(Soon);
            Assert.NotNull(turn);
            turn!.Dispose();
        }

        var (last, _) = await third.WaitAsync(Soon);
        Assert.NotNull(last);
        last!.Dispose();
        var (free, _) = await gate.EnterAsync(flooder, CancellationToken.None);
        Assert.NotNull(free);
        free!.Dispose();
    }
}
