using System.Diagnostics;

namespace PublishingPoint.Benchmarks.Live;

/// <summary>
/// How late this process itself runs its work: a timer of 100 ms on the thread pool, and how much later than that its
/// continuation ran. The viewers stamp "first listed" when their continuation runs, so a fragment can look late
/// because the benchmark was (a collection, a starved pool), not the server; this tells the two apart.
/// </summary>
internal sealed class DelayProbe
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(100);
    private readonly Task _loop;
    private double _worst;
    private double _worstAt;

    private DelayProbe(Stopwatch clock, CancellationToken stop) => _loop = Task.Run(() => LoopAsync(clock, stop), CancellationToken.None);

    /// <summary>The largest delay seen so far (seconds beyond the period) and when, in seconds of <c>clock</c>.</summary>
    public (double Seconds, double At) Worst => (Volatile.Read(ref _worst), Volatile.Read(ref _worstAt));

    public static DelayProbe Start(Stopwatch clock, CancellationToken stop) => new(clock, stop);

    public Task StopAsync() => _loop;

    private async Task LoopAsync(Stopwatch clock, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var before = Stopwatch.GetTimestamp();
            try
            {
                await Task.Delay(Period, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var late = (Stopwatch.GetElapsedTime(before) - Period).TotalSeconds;
            if (late > _worst)
            {
                Volatile.Write(ref _worst, late);
                Volatile.Write(ref _worstAt, clock.Elapsed.TotalSeconds);
            }
        }
    }
}
