using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// MS-SSTR 2.2.4.5 TfrfBox ('uuid' d4807ef2-...): version(8) flags(24) FragmentCount(8), then per following
/// fragment its absolute time and duration (64-bit each in version 1, always written; 32-bit in version 0).
/// </summary>
public readonly record struct TfrfBox(IReadOnlyList<(long Time, long Duration)> Following)
{
    public int Size => SizeFor(Following.Count);

    public static int SizeFor(int count) => 24 + 4 + 1 + (16 * count);

    /// <summary>Reads the payload after the 'uuid' header and its user type.</summary>
    public static TfrfBox Read(ReadOnlySpan<byte> payload)
    {
        MovieFragmentReader.RequireLength(payload, 5, BoxTypes.Uuid);
        var entry = payload[0] == 1 ? 16 : 8;
        var count = payload[4];
        MovieFragmentReader.RequireLength(payload, 5 + (count * entry), BoxTypes.Uuid);
        var following = new (long, long)[count];
        for (var i = 0; i < count; i++)
        {
            var at = payload[(5 + (i * entry))..];
            following[i] = entry == 16
                ? (BinaryPrimitives.ReadInt64BigEndian(at), BinaryPrimitives.ReadInt64BigEndian(at[8..]))
                : (BinaryPrimitives.ReadUInt32BigEndian(at), BinaryPrimitives.ReadUInt32BigEndian(at[4..]));
        }

        return new TfrfBox(following);
    }

    public int Write(Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(Following);
        return Write(destination, [.. Following]);
    }

    /// <summary>The box for <paramref name="following"/>, without making a <see cref="TfrfBox"/> (no allocation).</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<(long Time, long Duration)> following)
    {
        var size = SizeFor(following.Length);
        var at = BoxHeader.WriteUuid(destination, BoxTypes.Tfrf, size);
        BinaryPrimitives.WriteUInt32BigEndian(destination[at..], 0x0100_0000);
        destination[at + 4] = (byte)following.Length;
        at += 5;
        foreach (var (time, duration) in following)
        {
            BinaryPrimitives.WriteInt64BigEndian(destination[at..], time);
            BinaryPrimitives.WriteInt64BigEndian(destination[(at + 8)..], duration);
            at += 16;
        }

        return size;
    }

    public bool Equals(TfrfBox other) => (Following ?? []).SequenceEqual(other.Following ?? []);

    public override int GetHashCode() => Following?.Count ?? 0;
}
