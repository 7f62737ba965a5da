using PublishingPoint.Tests.Shared;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>What every delivered TS segment must be: PAT, PMT, then a video IDR with SPS/PPS, CCs continuing.</summary>
internal static class TsSegmentCheck
{
    private const int H264StreamType = 0x1B;
    private const int AacStreamType = 0x0F;

    /// <summary>Reads one segment into <paramref name="reader"/> (which checks CCs against the previous one).</summary>
    public static void Check(TsPacketReader reader, byte[] segment, bool withAudio, string name)
    {
        var firstPacket = reader.Packets.Count;
        var firstPes = reader.Pes.Count;
        reader.Read(segment);
        Assert.True(reader.Packets[firstPacket].Pid == 0, $"{name}: first packet is not the PAT");
        Assert.True(reader.Packets[firstPacket + 1].Pid == reader.PmtPid, $"{name}: second packet is not the PMT");
        var videoPid = reader.StreamTypes.Single(p => p.Value == H264StreamType).Key;
        var pes = reader.Pes.Skip(firstPes).ToList();
        Assert.True(pes.Count > 0, $"{name}: no PES");
        Assert.True(pes[0].Pid == videoPid, $"{name}: the first PES is not video");
        Assert.True(pes[0].FirstPacket.RandomAccess, $"{name}: the first video packet lacks random_access_indicator");
        var nalTypes = NalTypes(pes[0].Payload);
        Assert.True(nalTypes.Contains(7) && nalTypes.Contains(8) && nalTypes.Contains(5), $"{name}: first access unit has NAL types [{string.Join(',', nalTypes)}], expected SPS, PPS and IDR");
        Assert.True(nalTypes.IndexOf(7) < nalTypes.IndexOf(5) && nalTypes.IndexOf(8) < nalTypes.IndexOf(5), $"{name}: SPS/PPS must precede the IDR");
        if (withAudio)
        {
            var audioPid = reader.StreamTypes.Single(p => p.Value == AacStreamType).Key;
            Assert.True(pes.Any(p => p.Pid == audioPid), $"{name}: no audio PES");
        }
    }

    private static List<int> NalTypes(byte[] annexB)
    {
        var types = new List<int>();
        for (var i = 0; i + 3 < annexB.Length; i++)
        {
            if (annexB[i] == 0 && annexB[i + 1] == 0 && annexB[i + 2] == 1)
            {
                types.Add(annexB[i + 3] & 0x1F);
                i += 3;
            }
        }

        return types;
    }
}
