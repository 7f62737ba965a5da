using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Serilog.Events;

namespace PublishingPoint.Server.Observability;

/// <summary>
/// Connections Kestrel turns away at the server's total (<c>Kestrel:Limits:MaxConcurrentConnections</c>): one counted
/// line at most every 10 s in place of Kestrel's warning for each, which anyone can cause at will and which, in a flood,
/// fills the async sink's buffer so that every other line is dropped. Counted from Kestrel's own
/// <c>kestrel.rejected_connections</c> (this server's meter, not another's in the same process).
/// </summary>
internal sealed partial class RejectedConnectionsLog(IMeterFactory meters, IOptions<KestrelServerOptions> kestrel, ILogger<RejectedConnectionsLog> logger) : IHostedService, IDisposable
{
    private const string KestrelConnections = "Microsoft.AspNetCore.Server.Kestrel.Connections";
    private const int ConnectionRejectedEventId = 24;

    private readonly Configuration.LogGate _gate = new(TimeSpan.FromSeconds(10));
    private MeterListener? _listener;

    /// <summary>Kestrel's own line for a rejected connection, which this class's counted line replaces (a Serilog filter).</summary>
    public static bool IsKestrelsLine(LogEvent line) =>
        line.Properties.TryGetValue("SourceContext", out var source) && source is ScalarValue { Value: KestrelConnections }
        && line.Properties.TryGetValue("EventId", out var id) && id is StructureValue eventId
        && eventId.Properties.Any(p => p.Name == "Id" && p.Value is ScalarValue { Value: ConnectionRejectedEventId });

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Meter.Name == "Microsoft.AspNetCore.Server.Kestrel" && instrument.Name == "kestrel.rejected_connections")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, count, _, _) => Rejected(count));
        _listener.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _listener?.Dispose();

    private void Rejected(long count)
    {
        if (count > 0 && _gate.Pass(out var held))
        {
            Log(logger, held + count, kestrel.Value.Limits.MaxConcurrentConnections);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Count} connection(s): the server holds its maximum of {Max} (Kestrel:Limits:MaxConcurrentConnections); kestrel_rejected_connections in /metrics counts them all")]
    private static partial void Log(ILogger logger, long count, long? max);
}
