using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// ISO/IEC 14496-12 8.16.5 ProducerReferenceTimeBox ('prft'): the wall clock (NTP format) at which the sample of
/// <see cref="MediaTime"/> (on the reference track's timeline) was produced.
/// <code>
/// FullBox('prft', version, flags)
///   uint32 reference_track_ID; uint64 ntp_timestamp; version 0: uint32 media_time, version 1: uint64 media_time
/// </code>
/// </summary>
public readonly record struct PrftBox(uint ReferenceTrackId, DateTimeOffset WallClock, long MediaTime)
{
    private static readonly DateTimeOffset _ntpEpoch = new(1900, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Reads the box (header included); false when it is too short for its version.</summary>
    public static bool TryRead(ReadOnlySpan<byte> box, out PrftBox prft)
    {
        prft = default;
        if (!BoxHeader.TryRead(box, out var header) || header.Type != FourCC.From("prft") || box.Length < header.HeaderLength + 4 + 4 + 8 + 4)
        {
            return false;
        }

        var payload = box[header.HeaderLength..];
        var version = payload[0];
        if (payload.Length < (version == 1 ? 24 : 20))
        {
            return false;
        }

        var ntp = BinaryPrimitives.ReadUInt64BigEndian(payload[8..]);
        var seconds = (long)(ntp >> 32);
        var fraction = (long)(ntp & 0xFFFF_FFFF) * TimeSpan.TicksPerSecond >> 32;
        var mediaTime = version == 1 ? (long)BinaryPrimitives.ReadUInt64BigEndian(payload[16..]) : BinaryPrimitives.ReadUInt32BigEndian(payload[16..]);
        prft = new PrftBox(BinaryPrimitives.ReadUInt32BigEndian(payload[4..]), _ntpEpoch.AddTicks((seconds * TimeSpan.TicksPerSecond) + fraction), mediaTime);
        return true;
    }

    /// <summary>The box, version 1.</summary>
    public byte[] Write()
    {
        var box = new byte[8 + 4 + 4 + 8 + 8];
        BinaryPrimitives.WriteUInt32BigEndian(box, (uint)box.Length);
        "prft"u8.CopyTo(box.AsSpan(4));
        box[8] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(box.AsSpan(12), ReferenceTrackId);
        var ticks = (WallClock - _ntpEpoch).Ticks;
        var ntp = ((ulong)(ticks / TimeSpan.TicksPerSecond) << 32) | (ulong)(((ticks % TimeSpan.TicksPerSecond) << 32) / TimeSpan.TicksPerSecond);
        BinaryPrimitives.WriteUInt64BigEndian(box.AsSpan(16), ntp);
        BinaryPrimitives.WriteInt64BigEndian(box.AsSpan(24), MediaTime);
        return box;
    }
}
