namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// A 'moov' as its media: the creation and modification times of its 'mvhd', 'tkhd' and 'mdhd' zeroed. An encoder
/// that reconnects, or a redundant one, describes the same media with other clock readings.
/// </summary>
public static class MovieIdentity
{
    public static bool SameMedia(ReadOnlySpan<byte> moov, ReadOnlySpan<byte> other) =>
        moov.SequenceEqual(other) || (moov.Length == other.Length && WithoutTimes(moov).AsSpan().SequenceEqual(WithoutTimes(other)));

    public static byte[] WithoutTimes(ReadOnlySpan<byte> moov)
    {
        var copy = moov.ToArray();
        var top = new BoxReader(copy);
        if (top.TryNext() && top.Header.Type == BoxTypes.Moov)
        {
            Clear(copy.AsSpan(top.Offset + top.Header.HeaderLength, (int)top.Header.PayloadLength));
        }

        return copy;
    }

    private static void Clear(Span<byte> container)
    {
        var reader = new BoxReader(container);
        while (reader.TryNext())
        {
            var payload = container.Slice(reader.Offset + reader.Header.HeaderLength, (int)reader.Header.PayloadLength);
            var type = reader.Header.Type;
            if (type == BoxTypes.Mvhd || type == BoxTypes.Tkhd || type == BoxTypes.Mdhd)
            {
                // A full box: version and flags, then both times (64 bits each in version 1, else 32).
                var size = payload.Length > 0 && payload[0] == 1 ? 8 : 4;
                if (payload.Length >= 4 + (2 * size))
                {
                    payload.Slice(4, 2 * size).Clear();
                }
            }
            else if (type == BoxTypes.Trak || type == BoxTypes.Mdia)
            {
                Clear(payload);
            }
        }
    }
}
