using Microsoft.Extensions.Options;
using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Publishing;

internal static class PublishingServices
{
    /// <summary>The status (always, for /metrics) and, when a target is configured, its store and the publisher.</summary>
    public static IServiceCollection AddPublishing(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<PublishStatus>();
        var target = configuration.GetSection(PublishingPointOptions.Section).GetSection("Publish").GetValue("Target", PublishTarget.None);
        if (target == PublishTarget.None)
        {
            return services;
        }

        services.AddSingleton<IObjectStore>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<PublishingPointOptions>>().Value.Publish;
            return options.Target switch
            {
                PublishTarget.FileSystem => new FileSystemObjectStore(Configuration.Folders.Resolve(options.Path!)),
                PublishTarget.S3 => new S3ObjectStore(options.S3),
                _ => throw new InvalidOperationException($"unknown publish target {options.Target}"),
            };
        });
        services.AddHostedService<ObjectPublisher>();
        return services;
    }
}
