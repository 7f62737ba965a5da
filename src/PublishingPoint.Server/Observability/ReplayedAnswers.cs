using System.Net;
using PublishingPoint.Server.Delivery;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Observability;

/// <summary>
/// The kept answers (<see cref="AnswerStore"/>) as <see cref="AnswerReplay"/> gives them again, each counted as
/// <see cref="RequestObservation"/> counts the pipeline's: requests and bytes by format, the duration histogram, the
/// point's egress and viewers. While players' request lines are logged (Debug), nothing is replayed: the pipeline writes them.
/// </summary>
internal sealed class ReplayedAnswers(AnswerStore store, PointRegistry registry, DeliveryMetrics metrics, MetricsExport export, Serilog.ILogger logger) : IReplayAnswers
{
    private readonly Serilog.ILogger _requestLog = logger.ForContext(Serilog.Core.Constants.SourceContextPropertyName, RequestLog.Category);

    public bool TryAnswer(ReadOnlySpan<char> key, out ReplayAnswer answer)
    {
        answer = default;
        if (_requestLog.IsEnabled(Serilog.Events.LogEventLevel.Debug) || !store.TryGet(key, out var entry))
        {
            return false;
        }

        if (entry.Bytes is { } bytes)
        {
            answer = new ReplayAnswer(entry.Head, bytes, null, entry, null);
            return true;
        }

        if (entry.Segment!.TryGet() is not { } segment)
        {
            return false;
        }

        if (segment.Length != entry.Length)
        {
            segment.Release();
            return false;
        }

        answer = new ReplayAnswer(entry.Head, segment.Buffer is { } buffer ? buffer.Array.AsMemory(0, buffer.Length) : default, segment.File, entry, segment.Buffer);
        return true;
    }

    public void Answered(in ReplayAnswer answer, bool sent, TimeSpan elapsed, IPAddress? client)
    {
        var entry = (AnswerStore.Entry)answer.State!;
        if (entry.Segment is not null)
        {
            new ReadySegment(answer.Lease as FragmentBuffer, answer.File).Release();
        }

        if (!sent)
        {
            return;
        }

        var length = answer.Length;
        metrics.Served(entry.Format, StatusCodes.Status200OK, length);
        export.ObserveRequest(entry.Format, elapsed.TotalSeconds);
        var now = registry.Time.GetUtcNow();
        entry.Point.Audience.Egress.Add(length, now);
        if (entry.Viewer && client is not null)
        {
            entry.Point.Audience.Saw(client, now);
        }
    }
}
