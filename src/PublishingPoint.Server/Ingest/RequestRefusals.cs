using System.Collections.Concurrent;
using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// The warning for a refused request (a bad path, a missing secret or signature, a segment that cannot be made): the
/// first of each status, then at most one every 10 s with the count held back, so requests anyone can send by the
/// thousand cannot fill the log (each still has its request line, and /metrics counts them).
/// </summary>
internal sealed class RequestRefusals(ILogger logger)
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    // Keyed by status and whether it refused an encoder's request, which the server chooses (a handful), never by
    // anything the request says: a flood of bad playback requests does not hide an encoder's refusal.
    private readonly ConcurrentDictionary<(int Status, bool Ingest), LogGate> _gates = new();

    public void Refused(int status, string problem, string path, bool ingest = false)
    {
        if (!logger.IsEnabled(LogLevel.Warning) || !_gates.GetOrAdd((status, ingest), _ => new LogGate(Interval)).Pass(out var held))
        {
            return;
        }

        if (held == 0)
        {
            IngestLog.BadRequest(logger, status, problem, path);
        }
        else
        {
            IngestLog.BadRequests(logger, status, problem, path, held);
        }
    }
}
