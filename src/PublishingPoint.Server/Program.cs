using PublishingPoint.Server.Hosting;

await PublishingPointHosting.Create(args).RunAsync().ConfigureAwait(false);
