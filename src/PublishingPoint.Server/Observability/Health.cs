using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Observability;

/// <summary>Readiness: the archives on disk have been read back.</summary>
internal sealed class RecoveredCheck(Points.ArchiveRecovery recovery) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(recovery.Recovered ? HealthCheckResult.Healthy("archives recovered") : HealthCheckResult.Unhealthy("recovering archives"));
}

/// <summary>
/// Readiness: the data folder takes a file and has room (PublishingPoint:MinFreeDiskBytes). The result is kept a
/// second: a load balancer probing often costs a look at the disk once a second, not a file write per probe.
/// </summary>
internal sealed class DataFolderCheck(Points.PointRegistry registry, IOptions<PublishingPointOptions> options, TimeProvider time) : IHealthCheck
{
    private static readonly TimeSpan _keep = TimeSpan.FromSeconds(1);
    private Probed? _last;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        if (Volatile.Read(ref _last) is { } last && now - last.At < _keep)
        {
            return Task.FromResult(last.Result);
        }

        var result = Probe();
        Volatile.Write(ref _last, new Probed(now, result));
        return Task.FromResult(result);
    }

    private sealed record Probed(DateTimeOffset At, HealthCheckResult Result);

    private HealthCheckResult Probe()
    {
        try
        {
            var probe = Path.Combine(registry.DataRoot, ".ready-probe");
            File.WriteAllBytes(probe, [1]);
            File.Delete(probe);
            var free = new DriveInfo(registry.DataRoot).AvailableFreeSpace;
            var minimum = options.Value.MinFreeDiskBytes;
            return free < minimum
                ? HealthCheckResult.Unhealthy($"data folder has {free / (1024 * 1024)} MB free, under PublishingPoint:MinFreeDiskBytes ({minimum / (1024 * 1024)} MB)")
                : HealthCheckResult.Healthy($"data folder writable, {free / (1024 * 1024)} MB free");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return HealthCheckResult.Unhealthy($"data folder not writable: {e.Message}");
        }
    }
}

/// <summary>Readiness: the object store took the publisher's last operation (degraded, not down: the origin still serves).</summary>
internal sealed class ObjectStoreCheck(Publishing.PublishStatus publish) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(publish.Target is null
            ? HealthCheckResult.Healthy("no object store configured")
            : publish.StoreUp
                ? HealthCheckResult.Healthy($"object store {publish.Target} up")
                : HealthCheckResult.Degraded($"object store {publish.Target} failing: {publish.LastError}"));
}

/// <summary>
/// /health/live and /health/ready as plain text: the overall status, then one line per check. Readiness is computed
/// at most once a second and served as ready bytes: the framework's health check endpoint runs every check on a
/// thread-pool task of its own per request, which on two cores capped probes at a quarter of what a 404 answers.
/// </summary>
internal sealed class HealthResponses(HealthCheckService checks)
{
    public const string ReadyTag = "ready";
    private const long KeepMilliseconds = 1000;
    private static readonly byte[] _live = "healthy\n"u8.ToArray();
    private readonly Lock _gate = new();
    private Rendered? _ready;
    private Task<Rendered>? _rendering;

    // Public: the overall status and each check's; Detailed (for operators) adds what each found: the object store's
    // name and last error, the data folder's free space, which are not for anyone on the internet.
    private sealed record Rendered(long At, int Status, byte[] Public, byte[] Detailed);

    /// <summary>Liveness runs no check: the process answers.</summary>
    public static Task LiveAsync(HttpContext context) => WriteAsync(context, StatusCodes.Status200OK, _live);

    /// <param name="detailed">The asker is an operator: each check's findings too.</param>
    public async Task ReadyAsync(HttpContext context, bool detailed)
    {
        var ready = Volatile.Read(ref _ready);
        if (ready is null || Environment.TickCount64 - ready.At >= KeepMilliseconds)
        {
            ready = await RenderOnceAsync().WaitAsync(context.RequestAborted).ConfigureAwait(false);
        }

        await WriteAsync(context, ready.Status, detailed ? ready.Detailed : ready.Public).ConfigureAwait(false);
    }

    // Probes arriving while the checks run share that run.
    private Task<Rendered> RenderOnceAsync()
    {
        lock (_gate)
        {
            if (_rendering is { IsCompleted: false } running)
            {
                return running;
            }

            if (_ready is { } ready && Environment.TickCount64 - ready.At < KeepMilliseconds)
            {
                return Task.FromResult(ready);
            }

            return _rendering = RenderAsync();
        }
    }

    private async Task<Rendered> RenderAsync()
    {
        var report = await checks.CheckHealthAsync(check => check.Tags.Contains(ReadyTag)).ConfigureAwait(false);
        var text = new StringBuilder();
        var detailed = new StringBuilder();
        text.Append(report.Status.ToString().ToLowerInvariant()).Append('\n');
        detailed.Append(text);
        foreach (var (name, entry) in report.Entries)
        {
            var line = $"{name}: {entry.Status.ToString().ToLowerInvariant()}";
            text.Append(line).Append('\n');
            detailed.Append(line).Append(", ").Append(entry.Description).Append('\n');
        }

        var status = report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
        var rendered = new Rendered(Environment.TickCount64, status, Encoding.UTF8.GetBytes(text.ToString()), Encoding.UTF8.GetBytes(detailed.ToString()));
        Volatile.Write(ref _ready, rendered);
        return rendered;
    }

    private static Task WriteAsync(HttpContext context, int status, byte[] body)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        response.ContentLength = body.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }
}
