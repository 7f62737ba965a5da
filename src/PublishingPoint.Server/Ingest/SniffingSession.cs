using System.Buffers;
using System.IO.Pipelines;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// Picks the protocol of a <c>Streams({id})</c> POST from its first bytes: MPEG-TS when a sync byte (0x47)
/// repeats three times 188 bytes apart within the first packet's length (a TS pushed from a pipe may start
/// mid-packet), ISO-BMFF otherwise.
/// </summary>
internal sealed class SniffingSession(Func<IIngestSession> fmp4, Func<IIngestSession> mpegTs) : IIngestSession
{
    private const byte TsSyncByte = 0x47;
    private const int PacketSize = 188;
    private const int Needed = PacketSize * 4;
    private IIngestSession? _chosen;

    public long Accepted => _chosen?.Accepted ?? 0;

    public long Duplicates => _chosen?.Duplicates ?? 0;

    public bool SawEnd => _chosen?.SawEnd ?? false;

    public async Task RunAsync(PipeReader body, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await body.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (result.Buffer.Length >= Needed || result.IsCompleted)
            {
                var isTs = LooksLikeTs(result.Buffer);
                body.AdvanceTo(result.Buffer.Start);
                _chosen = isTs ? mpegTs() : fmp4();
                break;
            }

            body.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }

        await _chosen.RunAsync(body, cancellationToken).ConfigureAwait(false);
    }

    private static bool LooksLikeTs(ReadOnlySequence<byte> buffer)
    {
        Span<byte> head = stackalloc byte[Needed];
        var length = (int)Math.Min(buffer.Length, Needed);
        buffer.Slice(0, length).CopyTo(head);
        head = head[..length];
        for (var start = 0; start + (2 * PacketSize) < head.Length && start < PacketSize; start++)
        {
            if (head[start] == TsSyncByte && head[start + PacketSize] == TsSyncByte && head[start + (2 * PacketSize)] == TsSyncByte)
            {
                return true;
            }
        }

        return false;
    }
}
