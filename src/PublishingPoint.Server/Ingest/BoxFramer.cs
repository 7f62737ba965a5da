using System.Buffers;
using System.IO.Pipelines;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// Cuts an ISO-BMFF request body into boxes as it arrives. Box sizes are checked against the limit before
/// anything is buffered, and box bodies are copied out of the pipe as they come (the pipe never holds a
/// whole 'mdat'), so memory per connection is one box.
/// </summary>
internal sealed class BoxFramer(PipeReader reader, long maxBoxBytes, IngestMemoryAccount? memory = null)
{
    // A box buffer starts this small and doubles as its bytes arrive: what a client announces is not what it gets.
    private const int InitialBufferBytes = 64 * 1024;

    private static readonly HashSet<FourCC> _openingTypes =
    [
        BoxTypes.Ftyp, BoxTypes.Styp, BoxTypes.Moov, BoxTypes.Uuid, BoxTypes.Moof, BoxTypes.Free, BoxTypes.Skip,
        BoxTypes.Sidx, BoxTypes.Mfra, FourCC.From("emsg"), FourCC.From("prft"),
    ];

    private long _position;

    /// <summary>Bytes of the body consumed so far.</summary>
    public long Position => _position;

    /// <summary>The next box's header without consuming it; null at a clean end of the body.</summary>
    public async ValueTask<BoxHeader?> PeekAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.IsEmpty && result.IsCompleted)
            {
                reader.AdvanceTo(buffer.Start);
                return null;
            }

            bool parsed;
            BoxHeader header;
            try
            {
                parsed = TryParseHeader(buffer, out header);
            }
            catch
            {
                // Leave the reader consumable: the server drains the rest of a refused body after the answer.
                reader.AdvanceTo(buffer.Start);
                throw;
            }

            if (parsed)
            {
                reader.AdvanceTo(buffer.Start);
                if (_position == 0 && !_openingTypes.Contains(header.Type))
                {
                    throw new PointRuleException(StatusCodes.Status415UnsupportedMediaType,
                        $"not ISO-BMFF: a body starts with ftyp, styp, moov or moof, not '{header.Type}'");
                }

                if (header.Size > maxBoxBytes)
                {
                    throw new PointRuleException(StatusCodes.Status413PayloadTooLarge,
                        $"box '{header.Type}' of {header.Size} bytes at offset {_position} is over the {maxBoxBytes}-byte limit");
                }

                return header;
            }

            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.Start);
                throw new PointRuleException(StatusCodes.Status400BadRequest, $"body ends inside a box header at offset {_position}");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// Reads the whole box (header included) into a new array of exactly <paramref name="prefix"/> + the box's size,
    /// after a copy of <paramref name="prefix"/> (a 'moof' before its 'mdat'). The buffer grows as bytes arrive and
    /// every growth is reserved from the connection's memory account first; the caller owns the reservation of the
    /// result's length.
    /// </summary>
    public async ValueTask<byte[]> ReadBoxAsync(BoxHeader header, byte[]? prefix, CancellationToken cancellationToken)
    {
        var prefixLength = prefix?.Length ?? 0;
        var total = checked(prefixLength + (int)header.Size);
        if (total <= InitialBufferBytes)
        {
            memory?.Reserve(total);
            var small = new byte[total];
            prefix?.CopyTo(small, 0);
            await FillAsync(header, small, prefixLength, prefixLength, total, cancellationToken).ConfigureAwait(false);
            return small;
        }

        // The box arrives into pooled buffers that double as it grows (so an announced size pins nothing), and is
        // copied once into an array of its exact size at the end: a stored fragment is one allocation, not five.
        var reserved = Math.Min(total, prefixLength + InitialBufferBytes);
        memory?.Reserve(reserved);
        var buffer = ArrayPool<byte>.Shared.Rent(reserved);
        try
        {
            prefix?.CopyTo(buffer, 0);
            var filled = prefixLength;
            while (filled < total)
            {
                if (filled == reserved)
                {
                    var size = (int)Math.Min(total, (long)reserved * 2);
                    memory?.Reserve(size - reserved);
                    reserved = size;
                    if (buffer.Length < size)
                    {
                        var grown = ArrayPool<byte>.Shared.Rent(size);
                        buffer.AsSpan(0, filled).CopyTo(grown);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = grown;
                    }
                }

                filled = await FillAsync(header, buffer, prefixLength, filled, reserved, cancellationToken).ConfigureAwait(false);
            }

            var box = GC.AllocateUninitializedArray<byte>(total);
            buffer.AsSpan(0, total).CopyTo(box);
            return box;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Copies body bytes into <paramref name="buffer"/> from <paramref name="at"/> up to <paramref name="end"/>; returns <paramref name="end"/>.</summary>
    private async ValueTask<int> FillAsync(BoxHeader header, byte[] buffer, int prefixLength, int at, int end, CancellationToken cancellationToken)
    {
        while (at < end)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var take = (int)Math.Min(result.Buffer.Length, end - at);
            result.Buffer.Slice(0, take).CopyTo(buffer.AsSpan(at));
            at += take;
            _position += take;
            reader.AdvanceTo(result.Buffer.GetPosition(take));
            if (at < end && take == 0 && result.IsCompleted)
            {
                throw new PointRuleException(StatusCodes.Status400BadRequest,
                    $"body ends inside box '{header.Type}' ({at - prefixLength} of {header.Size} bytes): the partial box is discarded");
            }
        }

        return at;
    }

    /// <summary>Consumes a box that is not needed, without buffering it.</summary>
    public async ValueTask SkipAsync(BoxHeader header, CancellationToken cancellationToken)
    {
        var left = header.Size;
        while (left > 0)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var take = Math.Min(result.Buffer.Length, left);
            reader.AdvanceTo(result.Buffer.GetPosition(take));
            left -= take;
            _position += take;
            if (left > 0 && result.IsCompleted)
            {
                throw new PointRuleException(StatusCodes.Status400BadRequest, $"body ends inside box '{header.Type}'");
            }
        }
    }

    private bool TryParseHeader(ReadOnlySequence<byte> buffer, out BoxHeader header)
    {
        Span<byte> bytes = stackalloc byte[BoxHeader.MaxHeaderLength];
        var length = (int)Math.Min(buffer.Length, bytes.Length);
        buffer.Slice(0, length).CopyTo(bytes);
        bytes = bytes[..length];
        if (length >= 8 && !FourCC.Read(bytes[4..]).IsPrintable)
        {
            throw new PointRuleException(StatusCodes.Status415UnsupportedMediaType,
                $"not ISO-BMFF: bytes at offset {_position} are not a box header");
        }

        try
        {
            return BoxHeader.TryRead(bytes, out header);
        }
        catch (InvalidBoxException e)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"{e.Message} (offset {_position})");
        }
    }
}
