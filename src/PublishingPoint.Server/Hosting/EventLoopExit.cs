using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Hosting;

/// <summary>
/// Every request but a player's (a GET or HEAD of a point's manifest, playlist or segment) leaves the event loop before
/// it runs: its connection goes to the thread pool for good, and if this is an event thread, the request continues on
/// the pool. See <see cref="EventLoop"/>. Placed after <see cref="PlaybackFastLane"/> and the dashboard's static files
/// (served as a static file server serves them).
/// </summary>
internal sealed class EventLoopExit(RequestDelegate next, PointRequestRouter router, TransportMetrics? metrics = null)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<EventLoop.EventLoopConnection>() is not { OnLoop: true } connection || router.IsPlayback(context))
        {
            return next(context);
        }

        if (connection.Leave())
        {
            metrics?.LeftEventLoop();
        }

        return Thread.CurrentThread.IsThreadPoolThread ? next(context) : ContinueOnPoolAsync(context);
    }

    private async Task ContinueOnPoolAsync(HttpContext context)
    {
        // Not a pool thread (checked above), so the continuation is queued to the pool's global queue.
        await Task.Yield();
        await next(context).ConfigureAwait(false);
    }
}
