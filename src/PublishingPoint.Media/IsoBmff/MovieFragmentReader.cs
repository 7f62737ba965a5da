using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>Reads the track fragments of a 'moof' box (§8.8.4): 'tfhd', 'tfdt', 'trun' and MS-SSTR 'tfxd'.</summary>
public static class MovieFragmentReader
{
    // tfhd flags (§8.8.7)
    private const uint BaseDataOffsetPresent = 0x01;
    private const uint SampleDescriptionIndexPresent = 0x02;
    private const uint DefaultSampleDurationPresent = 0x08;
    private const uint DefaultSampleSizePresent = 0x10;
    private const uint DefaultSampleFlagsPresent = 0x20;
    private const uint DefaultBaseIsMoof = 0x020000;

    /// <summary>
    /// Parses every 'traf' of <paramref name="moof"/> (the whole box, header included).
    /// <paramref name="defaults"/> supplies 'trex' values per track id, or null when none are known.
    /// </summary>
    public static List<TrackFragment> Read(ReadOnlySpan<byte> moof, Func<uint, SampleDefaults>? defaults = null)
    {
        if (!BoxHeader.TryRead(moof, out var moofHeader) || moofHeader.Type != BoxTypes.Moof || moofHeader.Size != moof.Length)
        {
            throw new InvalidBoxException("expected one complete 'moof' box");
        }

        var result = new List<TrackFragment>(1);
        var children = new BoxReader(moof[moofHeader.HeaderLength..]);
        while (children.TryNext())
        {
            if (children.Header.Type == BoxTypes.Traf)
            {
                result.Add(ReadTraf(children.Payload, moofHeader.HeaderLength + children.Offset, defaults));
            }
        }

        if (result.Count == 0)
        {
            throw new InvalidBoxException("'moof' holds no 'traf'");
        }

        return result;
    }

    private static TrackFragment ReadTraf(ReadOnlySpan<byte> traf, int trafOffset, Func<uint, SampleDefaults>? defaults)
    {
        uint trackId = 0;
        var haveTfhd = false;
        var explicitBase = false;
        var baseIsMoof = false;
        SampleDefaults trackDefaults = default;
        long? decodeTime = null, tfxdTime = null, tfxdDuration = null;
        var sampleCount = 0;
        long duration = 0, dataSize = 0, dataOffset = -1;
        bool? firstSync = null;

        var boxes = new BoxReader(traf);
        while (boxes.TryNext())
        {
            var header = boxes.Header;
            var payload = boxes.Payload;
            if (header.Type == BoxTypes.Tfhd)
            {
                RequireLength(payload, 8, header.Type);
                var flags = BinaryPrimitives.ReadUInt32BigEndian(payload) & 0xFFFFFF;
                trackId = BinaryPrimitives.ReadUInt32BigEndian(payload[4..]);
                baseIsMoof = (flags & DefaultBaseIsMoof) != 0;
                trackDefaults = defaults?.Invoke(trackId) ?? default;
                var at = 8;
                if ((flags & BaseDataOffsetPresent) != 0)
                {
                    explicitBase = true;
                    at += 8;
                }

                if ((flags & SampleDescriptionIndexPresent) != 0)
                {
                    at += 4;
                }

                RequireLength(payload, at, header.Type);
                trackDefaults = trackDefaults with
                {
                    Duration = ReadOptional(payload, ref at, flags, DefaultSampleDurationPresent, trackDefaults.Duration),
                    Size = ReadOptional(payload, ref at, flags, DefaultSampleSizePresent, trackDefaults.Size),
                    Flags = ReadOptional(payload, ref at, flags, DefaultSampleFlagsPresent, trackDefaults.Flags),
                };
                haveTfhd = true;
            }
            else if (header.Type == BoxTypes.Tfdt)
            {
                var version1 = payload.Length > 0 && payload[0] == 1;
                RequireLength(payload, version1 ? 12 : 8, header.Type);
                decodeTime = version1
                    ? (long)BinaryPrimitives.ReadUInt64BigEndian(payload[4..])
                    : BinaryPrimitives.ReadUInt32BigEndian(payload[4..]);
            }
            else if (header.Type == BoxTypes.Uuid && header.UserType == BoxTypes.Tfxd)
            {
                (tfxdTime, tfxdDuration) = TfxdBox.Read(payload);
            }
            else if (header.Type == BoxTypes.Trun)
            {
                if (!haveTfhd)
                {
                    throw InvalidBoxException.For(header.Type, "comes before 'tfhd'");
                }

                var run = new TrackRunReader(payload, trackDefaults);
                if (dataOffset < 0)
                {
                    dataOffset = run.DataOffset ?? 0;
                }

                sampleCount += run.SampleCount;
                while (run.TryNext(out var sample))
                {
                    firstSync ??= SampleDefaults.IsSync(sample.Flags);
                    duration += sample.Duration;
                    dataSize += sample.Size;
                }
            }
        }

        if (!haveTfhd)
        {
            throw new InvalidBoxException("'traf' has no 'tfhd'");
        }

        return new TrackFragment
        {
            TrackId = trackId,
            TrafOffset = trafOffset,
            SampleCount = sampleCount,
            SummedDuration = duration,
            DataSize = dataSize,
            DataOffset = Math.Max(dataOffset, 0),
            FirstSampleIsSync = firstSync ?? false,
            DecodeTime = decodeTime,
            TfxdTime = tfxdTime,
            TfxdDuration = tfxdDuration,
            HasExplicitBaseOffset = explicitBase,
            BaseIsMoof = baseIsMoof,
            Defaults = trackDefaults,
        };
    }

    private static uint ReadOptional(ReadOnlySpan<byte> payload, ref int at, uint flags, uint bit, uint fallback)
    {
        if ((flags & bit) == 0)
        {
            return fallback;
        }

        if (payload.Length < at + 4)
        {
            throw InvalidBoxException.For(BoxTypes.Tfhd, "too short for its flags");
        }

        var value = BinaryPrimitives.ReadUInt32BigEndian(payload[at..]);
        at += 4;
        return value;
    }

    internal static void RequireLength(ReadOnlySpan<byte> payload, int length, FourCC type)
    {
        if (payload.Length < length)
        {
            throw InvalidBoxException.For(type, $"payload of {payload.Length} bytes is shorter than {length}");
        }
    }
}
